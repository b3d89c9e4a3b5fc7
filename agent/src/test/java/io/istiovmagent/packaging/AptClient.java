package io.istiovmagent.packaging;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * This machine's real apt, pointed at a root of its own (APT_CONFIG sets {@code Dir}): its own sources, keyrings,
 * lists and an empty dpkg status, one architecture. What a VM's apt does with a repository, without a VM and
 * without touching the machine's own apt.
 */
final class AptClient {
  private final Path root;
  private final Map<String, String> env;

  /** @param arch the architecture this client's apt takes for its own (APT::Architecture) */
  AptClient(Path root, String arch) throws IOException {
    this.root = root;
    for (String d : List.of("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
        "etc/apt/trusted.gpg.d", "etc/apt/keyrings", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial",
        "var/lib/dpkg", "var/log/apt")) {
      Files.createDirectories(root.resolve(d));
    }
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    Path conf = Files.writeString(root.resolve("apt.conf"), String.join("\n",
        "Dir \"" + root + "/\";",
        "Dir::State::status \"" + root + "/var/lib/dpkg/status\";",
        "APT::Architecture \"" + arch + "\";",
        "APT::Architectures { \"" + arch + "\"; };",
        // Root runs the test; apt would download as _apt, which cannot write into the test's directory.
        "APT::Sandbox::User \"root\";",
        "Debug::NoLocking \"true\";",
        "Acquire::Languages \"none\";",
        ""));
    this.env = Map.of("APT_CONFIG", conf.toString(), "LC_ALL", "C.UTF-8");
  }

  /**
   * Trusts {@code armoredKey} for {@code url} alone: the key in etc/apt/keyrings/istio-vm-agent.asc and a deb822
   * source naming it in Signed-By, as docs/apt-repository.md tells an operator to do.
   */
  AptClient source(String url, String armoredKey) throws IOException {
    Path key = Files.writeString(root.resolve("etc/apt/keyrings/istio-vm-agent.asc"), armoredKey);
    Files.writeString(root.resolve("etc/apt/sources.list.d/istio-vm-agent.sources"), "Types: deb\nURIs: " + url
        + "\nSuites: stable\nComponents: main\nSigned-By: " + key + "\n");
    return this;
  }

  Cmd.Result update() throws IOException, InterruptedException {
    return apt("apt-get", "update");
  }

  /** apt-cache policy's Candidate for {@code pkg}: "(none)" when apt knows no installable version. */
  String candidate(String pkg) throws IOException, InterruptedException {
    Cmd.Result r = apt("apt-cache", "policy", pkg);
    return r.out().lines().map(String::strip).filter(l -> l.startsWith("Candidate: ")).map(l -> l.substring(11))
        .findFirst().orElse("(none)");
  }

  /** apt-get download into {@code dir}: fetches the candidate's file from the pool and checks it against the index. */
  Cmd.Result download(String pkg, Path dir) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec apt-get download \"$1\"",
        dir.toString(), pkg));
    return Cmd.run(argv, env);
  }

  private Cmd.Result apt(String... argv) throws IOException, InterruptedException {
    return Cmd.run(List.of(argv), env);
  }
}
