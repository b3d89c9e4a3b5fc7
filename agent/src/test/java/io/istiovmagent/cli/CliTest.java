package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line as a user runs it: real files, a real temporary root, real HTTPS on loopback. */
class CliTest {
  @TempDir
  Path tmp;

  record Run(int code, String out, String err) {}

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(TestBundles.CLOCK, new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  private Path bundleDir(Map<BundleFile, byte[]> files) throws IOException {
    Path d = Files.createDirectories(tmp.resolve("bundle-" + System.nanoTime()));
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(d.resolve(e.getKey().fileName()), e.getValue());
    }
    return d;
  }

  private Path bundleTar(Map<BundleFile, byte[]> files) throws IOException {
    Path f = tmp.resolve("bundle-" + System.nanoTime() + ".tar.gz");
    Files.write(f, TarGzWriter.write(files));
    return f;
  }

  @Test
  void verifyAcceptsDirectoryTarGzAndFileUrl() throws Exception {
    Path dir = bundleDir(TestBundles.istioctlSample());
    Path tar = bundleTar(TestBundles.istioctlSample());
    for (String source : new String[] {dir.toString(), tar.toString(), tar.toUri().toString(), "file://" + dir}) {
      Run r = cli("bundle", "verify", source);
      assertEquals(0, r.code(), source + ": " + r.err());
      assertTrue(r.out().startsWith("bundle OK: "), r.out());
      for (String expected : new String[] {"hello-vm", "vm-namespace", "vm-sa", "cluster.local", "Kubernetes", "mesh1",
          "expires 2100-01-01T00:00:00Z", "O=cluster.local", "istiod.istio-system.svc -> 10.128.0.42"}) {
        assertTrue(r.out().contains(expected), "summary lacks " + expected + ":\n" + r.out());
      }
    }
  }

  @Test
  void verifyOverHttpsWithPrivateCaAndJoinToken() throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate server = new HeldCertificate.Builder().addSubjectAlternativeName("localhost").signedBy(ca).build();
    Path caFile = Files.writeString(tmp.resolve("ca.pem"), ca.certificatePem());
    Path tokenFile = Files.writeString(tmp.resolve("join-token"), "join-secret-4711\n");
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    Path config = Files.writeString(tmp.resolve("config.yaml"), "bundle:\n  tokenFile: " + tokenFile + "\n");
    try (MockWebServer web = new MockWebServer()) {
      web.useHttps(new HandshakeCertificates.Builder().heldCertificate(server).build().sslSocketFactory());
      web.start(InetAddress.getByName("127.0.0.1"), 0);
      web.enqueue(new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(TestBundles.valid()))).build());
      String url = "https://localhost:" + web.getPort() + "/v1/bundle/vm-namespace/hello-vm";
      Run r = cli("--config", config.toString(), "bundle", "verify", url, "--ca-file", caFile.toString());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("bundle OK: " + url), r.out());
      RecordedRequest req = web.takeRequest();
      assertEquals("Bearer join-secret-4711", req.getHeaders().get("Authorization"));
      assertFalse(r.out().contains("join-secret") || r.err().contains("join-secret"));

      Run untrusted = cli("--config", config.toString(), "bundle", "verify", url);
      assertEquals(69, untrusted.code(), untrusted.err());
      assertTrue(untrusted.err().contains("not signed by a trusted CA"), untrusted.err());
    }
  }

  @Test
  void verifyRefusesWithOneLinePerProblemAndExit65() throws Exception {
    Map<BundleFile, byte[]> files = TestBundles.valid();
    TestBundles.with(files, BundleFile.HOSTS, "127.0.0.1 istiod.istio-system.svc\n10.0.0.1 localhost\n");
    TestBundles.with(files, BundleFile.CLUSTER_ENV, "POD_NAMESPACE=vm-namespace\nSERVICE_ACCOUNT='$(reboot)'\n");
    Run r = cli("bundle", "verify", bundleDir(files).toString());
    assertEquals(65, r.code());
    String[] lines = r.err().split("\n");
    assertEquals("cluster.env:2: env-expansion: the value of SERVICE_ACCOUNT contains '$', which bash would expand or "
        + "execute (refused even inside quotes, so that no edit of the quoting can turn it into code)", lines[0]);
    assertTrue(lines[1].startsWith("hosts:1: hosts-address: "), lines[1]);
    assertTrue(lines[2].startsWith("hosts:2: hosts-localhost: "), lines[2]);
    assertTrue(lines[3].contains("refused (3 problems); nothing was changed"), lines[3]);
    assertEquals("", r.out());
  }

  @Test
  void unreachableSourceExits69WithTheReason() {
    Run r = cli("bundle", "verify", tmp.resolve("no-such-bundle").toString());
    assertEquals(69, r.code());
    assertTrue(r.err().contains("does not exist"), r.err());
    Run refused = cli("bundle", "verify", "https://127.0.0.1:1/v1/bundle");
    assertEquals(69, refused.code());
    assertTrue(refused.err().contains("cannot connect to 127.0.0.1:1"), refused.err());
  }

  @Test
  void plainHttpIsRefusedWithTheReason() {
    Run r = cli("bundle", "verify", "http://127.0.0.1:1/v1/bundle");
    assertEquals(78, r.code());
    assertTrue(r.err().contains("plain http:// is refused"), r.err());
    assertTrue(r.err().contains("https://"), r.err());
  }

  @Test
  void applyLaysOutTheBundleAndASecondApplyRewritesNothing() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Path source = bundleTar(TestBundles.valid());
    Run first = cli("--root", root.toString(), "apply", source.toString());
    assertEquals(0, first.code(), first.err());
    assertTrue(first.out().startsWith("applied bundle sha256:"), first.out());
    assertTrue(first.out().contains("created    /var/run/secrets/tokens/istio-token"), first.out());
    assertTrue(Files.isRegularFile(root.resolve("var/run/secrets/tokens/istio-token")));

    Map<String, String> before = TreeSnapshot.of(root);
    Run second = cli("apply", source.toString(), "--root", root.toString());
    assertEquals(0, second.code(), second.err());
    assertTrue(second.out().contains("is already in place"), second.out());
    assertEquals(before, TreeSnapshot.of(root));
  }

  @Test
  void aRefusedBundleAfterAGoodOneLeavesEveryByteAsItWas() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    assertEquals(0, cli("--root", root.toString(), "apply", bundleDir(TestBundles.valid()).toString()).code());
    Map<String, String> before = TreeSnapshot.of(root);

    Map<BundleFile, byte[]> bad = TestBundles.valid();
    TestBundles.with(bad, BundleFile.TOKEN, TestBundles.jwt("{\"alg\":\"none\"}", TestBundles.claims()));
    TestBundles.with(bad, BundleFile.HOSTS, "10.9.9.9 istiod.istio-system.svc\n");
    Run r = cli("--root", root.toString(), "apply", bundleDir(bad).toString());
    assertEquals(65, r.code());
    assertEquals(before, TreeSnapshot.of(root));

    Run unreachable = cli("--root", root.toString(), "apply", tmp.resolve("gone").toString());
    assertEquals(69, unreachable.code());
    assertEquals(before, TreeSnapshot.of(root));
  }

  @Test
  void applyUsesBundleSourceFromTheConfigUnderTheRoot() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Path source = bundleDir(TestBundles.valid());
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"),
        "bundle:\n  source: " + source + "\npaths:\n  stateDir: /var/lib/custom-state\n");
    Run r = cli("--root", root.toString(), "apply");
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.isRegularFile(root.resolve("var/lib/custom-state/last-known-good.json")));
  }

  @Test
  void applyWithoutAnySourceSaysWhatToDo() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Run r = cli("--root", root.toString(), "apply");
    assertEquals(64, r.code());
    assertTrue(r.err().contains("set bundle.source"), r.err());
  }

  @Test
  void unknownConfigKeyIsNamed() throws Exception {
    Path config = Files.writeString(tmp.resolve("config.yaml"), "bundle:\n  sorce: /x\n");
    Run r = cli("--config", config.toString(), "bundle", "verify", "/x");
    assertEquals(78, r.code());
    assertTrue(r.err().contains("unknown key 'bundle.sorce'"), r.err());
  }

  @Test
  void tokenNeverAppearsInApplyOutput() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Map<BundleFile, byte[]> files = TestBundles.valid();
    String token = new String(files.get(BundleFile.TOKEN), StandardCharsets.UTF_8).strip();
    Run r = cli("--root", root.toString(), "apply", bundleDir(files).toString());
    assertEquals(0, r.code());
    for (String part : token.split("\\.")) {
      assertFalse(r.out().contains(part) || r.err().contains(part));
    }
  }

  // The modes of everything `apply` and `run` write, under umask 000 and 077: reliability.FileModesTest.

  @ParameterizedTest
  @ValueSource(strings = {"", "bundle", "bundle verify", "apply", "run", "status", "version", "purge"})
  void everyCommandHasHelp(String command) {
    String[] args = (command.isEmpty() ? "--help" : command + " --help").split(" ");
    Run r = cli(args);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("Usage: istio-vm-agent"), r.out());
  }

  /** serve and sample-bundle left with the onboarding service: a usage error that says where they went. */
  @ParameterizedTest
  @ValueSource(strings = {"serve --bundles b --tokens t.yaml", "serve --help", "sample-bundle --out x"})
  void theCommandsThatMovedSayWhere(String command) {
    Run r = cli(command.split(" "));
    assertEquals(64, r.code(), r.err());
    assertTrue(r.err().contains("'istio-vm-onboarding serve' (same flags)"), r.err());
    assertFalse(cli("--help").out().contains("serve"), "not listed among the agent's commands");
  }

  @Test
  void verifyHelpSaysTheSignatureCannotBeChecked() {
    assertTrue(cli("bundle", "verify", "--help").out().contains("signature cannot be checked on the VM"));
  }

  @Test
  void versionAndUsageErrors() {
    Run v = cli("version");
    assertEquals(0, v.code());
    assertTrue(v.out().startsWith("istio-vm-agent "), v.out());
    assertEquals(64, cli("no-such-command").code());
    assertEquals(64, cli().code());
  }
}
