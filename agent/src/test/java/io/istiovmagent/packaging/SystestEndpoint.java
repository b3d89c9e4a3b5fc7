package io.istiovmagent.packaging;

import static io.istiovmagent.packaging.BootedDebian.waitUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.Repo;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import okhttp3.tls.HeldCertificate;

/**
 * What a booted-VM test needs on the host: the onboarding service ({@code istio-vm-onboarding serve}) on the host's
 * loopback (the containers share its network), with a certificate of our own CA, a sample bundle, and every report
 * appended to a file, stopped and started again on the same port and certificate; the user data of the cloud-init
 * example filled in for it; and the stand-in istio-sidecar package. SystemIT's and Arm64SystemIT's.
 */
final class SystestEndpoint {
  static final String NAMESPACE = "vm-namespace";
  static final String GROUP = "hello-vm";
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path dir;
  private final Path log;
  private final HeldCertificate ca = TestTls.newCa("systest onboarding CA");
  private final String joinToken = randomHex() + randomHex();
  private final int port;
  private Process process;

  SystestEndpoint(Path dir, Path log) throws Exception {
    this.dir = Files.createDirectories(dir);
    this.log = log;
    try (ServerSocket s = new ServerSocket(0, 1, TestTls.LOOPBACK)) {
      port = s.getLocalPort();
    }
    HeldCertificate leaf = TestTls.serverCert(ca, "127.0.0.1", "localhost");
    Files.writeString(dir.resolve("cert.pem"), leaf.certificatePem() + ca.certificatePem());
    writePrivate(dir.resolve("key.pem"), leaf.privateKeyPkcs8Pem());
    writePrivate(dir.resolve("tokens.yaml"), "tokens:\n  - token: " + joinToken + "\n    namespace: "
        + NAMESPACE + "\n    group: " + GROUP + "\n");
    SampleBundle.write(dir.resolve("bundles").resolve(NAMESPACE).resolve(GROUP), false);
  }

  String url() {
    return "https://127.0.0.1:" + port;
  }

  String caPem() {
    return ca.certificatePem();
  }

  String joinToken() {
    return joinToken;
  }

  void start() throws Exception {
    if (process != null && process.isAlive()) {
      return;
    }
    process = new ProcessBuilder(OnboardingService.command("serve", "--bundles", dir.resolve("bundles").toString(),
        "--tokens", dir.resolve("tokens.yaml").toString(), "--listen", "127.0.0.1:" + port,
        "--cert", dir.resolve("cert.pem").toString(), "--key", dir.resolve("key.pem").toString(),
        "--reports", dir.resolve("reports.jsonl").toString()))
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    waitUntil(Duration.ofSeconds(30), "the endpoint on port " + port + " (" + log + ")", () -> {
      if (!process.isAlive()) {
        throw new AssertionError("the endpoint exited: " + Files.readString(log));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(TestTls.LOOPBACK, port), 1000);
        return true;
      } catch (IOException e) {
        return false;
      }
    });
  }

  void stop() throws InterruptedException {
    if (process != null) {
      process.destroy();
      process.waitFor();
    }
  }

  /** The agent's config.yaml (with its CA and join token beside it) for this endpoint, written into a VM. */
  void configure(BootedDebian vm) throws IOException {
    Path etc = vm.file("/etc/istio-vm-agent");
    Files.writeString(etc.resolve("ca.pem"), caPem());
    writePrivate(etc.resolve("join-token"), joinToken);
    Files.writeString(etc.resolve("config.yaml"), String.join("\n",
        "bundle:",
        "  source: " + url() + "/v1/bundle/" + NAMESPACE + "/" + GROUP,
        "  caFile: /etc/istio-vm-agent/ca.pem",
        "  tokenFile: /etc/istio-vm-agent/join-token",
        "report:",
        "  url: " + url() + "/v1/health",
        ""));
  }

  List<JsonNode> reports() throws IOException {
    Path file = dir.resolve("reports.jsonl");
    List<JsonNode> all = new ArrayList<>();
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        all.add(JSON.readTree(line));
      }
    }
    return all;
  }

  /** Waits (a minute at most) for a report from the VM with this machine-id that matches; returns it. */
  JsonNode awaitReport(String machineId, Predicate<JsonNode> matches, String what) throws Exception {
    return awaitReport(machineId, matches, what, Duration.ofMinutes(1));
  }

  /** Waits (up to {@code limit}) for a report from the VM with this machine-id that matches; returns it. */
  JsonNode awaitReport(String machineId, Predicate<JsonNode> matches, String what, Duration limit) throws Exception {
    JsonNode[] found = new JsonNode[1];
    waitUntil(limit, what + " at the endpoint", () -> {
      Optional<JsonNode> r = reports().stream()
          .filter(n -> n.path("host").path("machineId").asText().equals(machineId)).filter(matches).findFirst();
      r.ifPresent(n -> found[0] = n);
      return r.isPresent();
    });
    String all = Files.readString(dir.resolve("reports.jsonl"));
    assertFalse(all.contains(joinToken), "a report holds the join token");
    return found[0];
  }

  /**
   * packaging/deb/cloud-init-example.yaml with every REPLACE- value filled in for this endpoint and the apt
   * repository at {@code aptUrl} signed by {@code armoredKey}.
   */
  String userData(String aptUrl, String armoredKey) throws IOException {
    String example = Files.readString(Repo.path("packaging/deb/cloud-init-example.yaml"), StandardCharsets.UTF_8);
    String caBlock = "      -----BEGIN CERTIFICATE-----\n      REPLACE-WITH-THE-ENDPOINT-CA-CERTIFICATE\n"
        + "      -----END CERTIFICATE-----\n";
    String keyBlock = "      -----BEGIN PGP PUBLIC KEY BLOCK-----\n      REPLACE-WITH-THE-REPOSITORY-SIGNING-KEY\n"
        + "      -----END PGP PUBLIC KEY BLOCK-----\n";
    assertTrue(example.contains(caBlock), "the example's CA placeholder changed; update SystemIT");
    assertTrue(example.contains(keyBlock), "the example's signing key placeholder changed; update SystemIT");
    String filled = example
        .replace("https://REPLACE-onboarding.example", url())
        .replace("REPLACE-WITH-THE-JOIN-TOKEN", joinToken)
        .replace(caBlock, indent(caPem()))
        .replace(keyBlock, indent(armoredKey))
        .replace("https://REPLACE-apt.example/istio-vm-agent", aptUrl);
    assertFalse(filled.lines().anyMatch(l -> !l.strip().startsWith("#") && l.contains("REPLACE")),
        "a REPLACE- value of the example is not filled in:\n" + filled);
    return filled;
  }

  private static String indent(String block) {
    return block.lines().map(l -> l.isEmpty() ? "\n" : "      " + l + "\n").reduce("", String::concat);
  }

  static void writePrivate(Path file, String text) throws IOException {
    Files.writeString(file, "");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    Files.writeString(file, text);
  }

  /** 16 random bytes in hex: a machine-id, or half a join token. */
  static String randomHex() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** packaging/deb/systest/istio-sidecar (Architecture: all) as a .deb, with the md5sums dpkg --verify needs. */
  static Path buildSidecarStandIn(Path work) throws Exception {
    Path tree = work.resolve("istio-sidecar");
    Cmd.Result cp = Cmd.run(List.of("cp", "-a", Repo.path("packaging/deb/systest/istio-sidecar").toString(),
        tree.toString()));
    assertEquals(0, cp.code(), cp.all());
    Cmd.Result sums = Cmd.run(List.of("sh", "-c", "cd " + tree + " && find . -type f ! -path './DEBIAN/*' "
        + "| sed 's#^\\./##' | sort | xargs md5sum > DEBIAN/md5sums"));
    assertEquals(0, sums.code(), sums.all());
    Path out = work.resolve("istio-sidecar.deb");
    Cmd.Result b = Cmd.run(List.of(Cmd.require("dpkg-deb", "dpkg"), "--root-owner-group", "-b", tree.toString(),
        out.toString()));
    assertEquals(0, b.code(), b.all());
    return out;
  }
}
