package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A signed apt repository made by the product's {@code packaging/apt/build-repo} (apt-ftparchive and gpg), with
 * signing keys the test generates in a GNUPGHOME of its own: no key is ever committed. Also makes the packages a
 * test puts in it: a later version of a real .deb, and tiny packages of any architecture, all with dpkg-deb.
 */
final class AptRepository implements AutoCloseable {
  private final Path dir;
  private final Path gnupgHome;

  /** @param work an empty directory of the test's: the repository goes in {@code work/repo}, keys in {@code work/g} */
  AptRepository(Path work) throws IOException {
    this.dir = work.resolve("repo");
    // Short: gpg-agent's socket path must fit a sockaddr_un (108 bytes).
    this.gnupgHome = Files.createDirectories(work.resolve("g"));
    Files.setPosixFilePermissions(gnupgHome, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
  }

  Path dir() {
    return dir;
  }

  /** A new ed25519 signing key without a passphrase, valid for a day; returns its fingerprint. */
  String newKey(String name) throws IOException, InterruptedException {
    gpg("--passphrase", "", "--quick-generate-key", name + " <systest@example.invalid>", "ed25519", "sign", "1d");
    String colons = gpg("--with-colons", "--list-secret-keys", name);
    return colons.lines().filter(l -> l.startsWith("fpr:")).findFirst().orElseThrow().split(":")[9];
  }

  /** The public key(s), ASCII-armoured, as a client's {@code /etc/apt/keyrings/NAME.asc} holds them. */
  String publicKey(String... fingerprints) throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("--armor", "--export"));
    args.addAll(List.of(fingerprints));
    return gpg(args.toArray(String[]::new));
  }

  /** Runs build-repo on this repository, signing with {@code keys}; it must succeed. */
  Cmd.Result build(List<String> keys, Path... debs) throws IOException, InterruptedException {
    Cmd.Result r = tryBuild(keys, debs);
    assertEquals(0, r.code(), "build-repo failed:\n" + r.all());
    return r;
  }

  /** Runs build-repo on this repository, signing with {@code keys}, whatever the outcome. */
  Cmd.Result tryBuild(List<String> keys, Path... debs) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of(Repo.path("packaging/apt/build-repo").toString(), "--repo",
        dir.toString(), "--gnupghome", gnupgHome.toString()));
    for (String k : keys) {
      argv.addAll(List.of("--key", k));
    }
    for (Path d : debs) {
      argv.add(d.toString());
    }
    Cmd.require("apt-ftparchive", "apt-utils");
    Cmd.require("gpg", "gnupg");
    return Cmd.run(argv);
  }

  private String gpg(String... args) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of(Cmd.require("gpg", "gnupg"), "--homedir", gnupgHome.toString(),
        "--batch", "--no-tty", "--quiet"));
    argv.addAll(List.of(args));
    Cmd.Result r = Cmd.run(argv);
    assertEquals(0, r.code(), "gpg " + String.join(" ", args) + ":\n" + r.all());
    return r.out();
  }

  /** Stops the gpg-agent the key generation started for this GNUPGHOME. */
  @Override
  public void close() throws IOException, InterruptedException {
    Cmd.run(List.of(Cmd.require("gpgconf", "gnupg"), "--homedir", gnupgHome.toString(), "--kill", "all"));
  }

  /**
   * {@code deb} with its Version replaced, its files (the data member) byte for byte the same: what a later release
   * with the same payload is to apt and dpkg. The control member is unpacked, edited and packed again; ar puts the
   * three members back in dpkg's order.
   */
  static Path withVersion(Path deb, String version, Path work) throws IOException, InterruptedException {
    Path dir = Files.createDirectories(work.resolve("repack-" + version.replaceAll("[^A-Za-z0-9.+-]", "_")));
    Path ctl = Files.createDirectories(dir.resolve("control"));
    String ar = Cmd.require("ar", "binutils");
    run(dir, ar, "x", deb.toAbsolutePath().toString());
    String member;
    try (var s = Files.list(dir)) {
      member = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("control.tar")).findFirst()
          .orElseThrow();
    }
    String data;
    try (var s = Files.list(dir)) {
      data = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("data.tar")).findFirst().orElseThrow();
    }
    run(dir, "tar", "-xaf", member, "-C", ctl.toString());
    Path control = ctl.resolve("control");
    String text = Files.readString(control).replaceFirst("(?m)^Version: .*$", "Version: " + version);
    Files.writeString(control, text);
    Files.delete(dir.resolve(member));
    run(dir, "tar", "-caf", member, "--owner=0", "--group=0", "--numeric-owner", "--sort=name", "-C",
        ctl.toString(), ".");
    String pkg = text.lines().filter(l -> l.startsWith("Package: ")).findFirst().orElseThrow().substring(9);
    String arch = text.lines().filter(l -> l.startsWith("Architecture: ")).findFirst().orElseThrow().substring(14);
    Path out = work.resolve(pkg + "_" + version + "_" + arch + ".deb");
    run(dir, ar, "rc", out.toString(), "debian-binary", member, data);
    return out;
  }

  /** A minimal real package (one file) for {@code arch}, made with dpkg-deb: for the indexes of other architectures. */
  static Path tinyPackage(String name, String version, String arch, Path work)
      throws IOException, InterruptedException {
    Path tree = work.resolve("tiny-" + name + "-" + arch);
    Files.createDirectories(tree.resolve("DEBIAN"));
    Files.createDirectories(tree.resolve("usr/share/doc/" + name));
    Files.writeString(tree.resolve("usr/share/doc/" + name + "/README"), "made by AptRepositoryIT\n");
    Files.writeString(tree.resolve("DEBIAN/control"), "Package: " + name + "\nVersion: " + version
        + "\nArchitecture: " + arch + "\nMaintainer: systest <systest@example.invalid>\n"
        + "Description: a package of the test's\n");
    Path out = work.resolve(name + "_" + version + "_" + arch + ".deb");
    run(work, Cmd.require("dpkg-deb", "dpkg"), "--root-owner-group", "-b", tree.toString(), out.toString());
    return out;
  }

  private static void run(Path cwd, String... argv) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec \"$@\"", cwd.toString()));
    cmd.addAll(List.of(argv));
    Cmd.Result r = Cmd.run(cmd);
    assertEquals(0, r.code(), String.join(" ", argv) + ":\n" + r.all());
  }
}
