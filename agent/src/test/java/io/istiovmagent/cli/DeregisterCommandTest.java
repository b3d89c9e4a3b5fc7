package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.cli.CliTest.Run;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code istio-vm-agent deregister} against servers that answer what a test says (MockWebServer, and a plain
 * HTTP/1.0 server of another make), with real TLS on loopback and a real temporary root: one line of what happened,
 * the exit code, and never the credential.
 */
class DeregisterCommandTest {
  private static final HeldCertificate CA = TestTls.newCa("deregister test CA");
  private static final HeldCertificate LEAF = TestTls.serverCert(CA, "localhost");
  private static final String MACHINE_ID = "5f0c6d1e000040008000000000000001";
  private static final String SECRET = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";
  private static final String CREDENTIAL = "vmc.vm-namespace." + MACHINE_ID + "." + SECRET;
  private static final String PATH = "/v1/vms/vm-namespace/hello-vm/" + MACHINE_ID;
  private static final String BY_HAND = "kubectl -n vm-namespace delete workloadentry hello-vm-" + MACHINE_ID;

  @TempDir
  Path tmp;

  private MockWebServer server;
  private Path root;
  private Path caFile;

  @BeforeEach
  void start() throws Exception {
    server = TestTls.startHttps(LEAF, CA);
    caFile = TestTls.writeCaPem(tmp, CA);
    root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.writeString(root.resolve("etc/machine-id"), MACHINE_ID + "\n");
    config("https://localhost:" + server.getPort() + "/v1/bundle/vm-namespace/hello-vm", true);
    credential(CREDENTIAL);
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
  }

  @Test
  void a204IsDeregisteredAndTheRequestIsTheProtocolsDelete() throws Exception {
    server.enqueue(new MockResponse.Builder().code(204).build());

    Run r = deregister();

    assertEquals(0, r.code(), r.err());
    assertEquals("deregistered machine " + MACHINE_ID + " of vm-namespace/hello-vm with localhost:" + server.getPort()
        + "\n", r.out());
    assertEquals("", r.err());
    RecordedRequest req = server.takeRequest();
    assertEquals("DELETE", req.getMethod());
    assertEquals(PATH, req.getTarget());
    assertEquals("Bearer " + CREDENTIAL, req.getHeaders().get("Authorization"));
    assertEquals(0, req.getBodySize());
    assertTrue(Files.isRegularFile(root.resolve("var/lib/istio-vm-agent/credential")), "the credential is kept");
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {404, 405})
  void anOlderServiceSaysItDoesNotSupportDeregistrationAndExits0(int status) throws Exception {
    server.enqueue(new MockResponse.Builder().code(status).addHeader("Content-Type", "application/json")
        .body("{\"error\":\"no such endpoint\"}").build());

    Run r = deregister();

    assertEquals(0, r.code(), r.err());
    assertEquals("localhost:" + server.getPort() + " answered HTTP " + status + ": the service does not support "
        + "deregistration; machine " + MACHINE_ID + " of vm-namespace/hello-vm stays registered until an operator "
        + "removes it: " + BY_HAND + " (or DELETE " + PATH + " with an admin token)\n", r.out());
    assertNoSecret(r);
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {401, 403})
  void aRefusedCredentialExits77WithTheServicesReason(int status) throws Exception {
    server.enqueue(new MockResponse.Builder().code(status).addHeader("Content-Type", "application/json")
        .body("{\"error\":\"this credential was revoked\\nsecond line\"}").build());

    Run r = deregister();

    assertEquals(77, r.code(), r.out() + r.err());
    assertEquals("", r.out());
    assertTrue(r.err().startsWith("localhost:" + server.getPort() + " refused the VM's credential (HTTP " + status
        + "): this credential was revoked second line; machine " + MACHINE_ID), r.err());
    assertTrue(r.err().contains(BY_HAND), r.err());
    assertEquals(1, r.err().lines().count(), "one line: " + r.err());
    assertNoSecret(r);
  }

  @Test
  void a503Exits69WithRetryAfterAndTheReason() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "15")
        .addHeader("Content-Type", "application/json")
        .body("{\"error\":\"cannot deregister now: the Kubernetes API does not answer\"}").build());

    Run r = deregister();

    assertEquals(69, r.code(), r.out() + r.err());
    assertEquals("cannot deregister machine " + MACHINE_ID + " of vm-namespace/hello-vm: localhost:"
        + server.getPort() + " cannot deregister now (HTTP 503, retry after 15s): cannot deregister now: the "
        + "Kubernetes API does not answer; it stays registered until an operator removes it: " + BY_HAND
        + " (or DELETE " + PATH + " with an admin token)\n", r.err());
    assertNoSecret(r);
  }

  @Test
  void aRedirectIsNotFollowed() throws Exception {
    server.enqueue(new MockResponse.Builder().code(302).addHeader("Location", "/elsewhere").build());

    Run r = deregister();

    assertEquals(69, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("answered HTTP 302 (a redirect, not followed"), r.err());
    assertEquals(1, server.getRequestCount());
  }

  @Test
  void aPlainHttp10ServerThatDoesNotImplementDeleteIsAServiceWithoutDeregistration() throws Exception {
    byte[] html = ("<html><body><h1>Error response</h1><p>Error code: 501</p><p>Message: Unsupported method "
        + "('DELETE').</p></body></html>\n").getBytes(StandardCharsets.UTF_8);
    try (TinyHttpsServer plain = TinyHttpsServer.http10(TestTls.serverSocketFactory(LEAF, CA),
        req -> Answer.of(501, "text/html", html))) {
      config("https://localhost:" + plain.port() + "/v1/bundle/vm-namespace/hello-vm", true);

      Run r = deregister();

      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().startsWith("localhost:" + plain.port() + " answered HTTP 501: the service does not "
          + "support deregistration; "), r.out());
      TinyHttpsServer.Received req = plain.received.poll(5, TimeUnit.SECONDS);
      assertEquals("DELETE", req.method());
      assertEquals(PATH, req.target());
      assertNoSecret(r);
    }
  }

  @Test
  void aPlainHttp10ServerThatAnswers200HasNotDeregisteredAnything() throws Exception {
    try (TinyHttpsServer plain = TinyHttpsServer.http10(TestTls.serverSocketFactory(LEAF, CA),
        req -> Answer.of(200, "text/plain", "OK\n".getBytes(StandardCharsets.US_ASCII)))) {
      config("https://localhost:" + plain.port() + "/v1/bundle/vm-namespace/hello-vm", true);

      Run r = deregister();

      assertEquals(69, r.code(), r.out() + r.err());
      assertTrue(r.err().contains("answered HTTP 200, not the 204 of protocol v1; it stays registered"), r.err());
      assertNoSecret(r);
    }
  }

  @Test
  void aServiceThatDoesNotAnswerIsGivenUpAfterTheTimeout() throws Exception {
    server.enqueue(new MockResponse.Builder().code(204).onResponseStart(SocketEffect.Stall.INSTANCE).build());
    long started = System.nanoTime();

    Run r = CliTest.cli("--root", root.toString(), "deregister", "--timeout", "1s");

    Duration took = Duration.ofNanos(System.nanoTime() - started);
    assertEquals(69, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("timed out talking to localhost:" + server.getPort()), r.err());
    assertTrue(took.compareTo(Duration.ofSeconds(5)) < 0, "took " + took);
    assertNoSecret(r);
  }

  @Test
  void aServiceThatTricklesItsAnswerIsCutOffAtTheTimeoutNotAMultipleOfIt() throws Exception {
    // Every byte comes before the read timeout would fire: only a bound on the whole call ends it.
    server.enqueue(new MockResponse.Builder().code(503).body("{\"error\":\"" + "x".repeat(30) + "\"}")
        .throttleBody(1, 250, TimeUnit.MILLISECONDS).build());
    long started = System.nanoTime();

    Run r = CliTest.cli("--root", root.toString(), "deregister", "--timeout", "2s");

    Duration took = Duration.ofNanos(System.nanoTime() - started);
    assertEquals(69, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("timed out talking to localhost:" + server.getPort()), r.err());
    assertTrue(took.compareTo(Duration.ofMillis(3500)) < 0, "took " + took + ", the whole answer takes 10 s");
  }

  @Test
  void anUnreachableOrUntrustedServiceExits69() throws Exception {
    config("https://127.0.0.1:1/v1/bundle/vm-namespace/hello-vm", true);
    Run refused = deregister();
    assertEquals(69, refused.code(), refused.out() + refused.err());
    assertTrue(refused.err().contains("cannot connect to 127.0.0.1:1"), refused.err());

    config("https://localhost:" + server.getPort() + "/v1/bundle/vm-namespace/hello-vm", false);
    Run untrusted = deregister();
    assertEquals(69, untrusted.code(), untrusted.out() + untrusted.err());
    assertTrue(untrusted.err().contains("not signed by a trusted CA"), untrusted.err());
    assertNoSecret(refused);
    assertNoSecret(untrusted);
  }

  @Test
  void withoutACredentialThereIsNothingToDeregister() throws Exception {
    Files.delete(root.resolve("var/lib/istio-vm-agent/credential"));

    Run r = deregister();

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("nothing to deregister: the VM holds no credential of its own"), r.out());
    assertEquals(1, r.out().lines().count(), r.out());
    assertEquals(0, server.getRequestCount());
  }

  @ParameterizedTest(name = "source [{0}]")
  @ValueSource(strings = {"", "/srv/vm-bundle/", "file:///srv/vm-bundle.tar.gz", "http://plane.example/v1/bundle/a/b"})
  void withoutAnHttpsSourceThereIsNothingToDeregister(String source) throws Exception {
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"),
        source.isEmpty() ? "paths:\n  runDir: /run/istio-vm-agent\n" : "bundle:\n  source: " + source + "\n");

    Run r = deregister();

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("nothing to deregister: bundle.source is "), r.out());
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void aMachineIdThatIsNotTheEnrolledKindIsAConfigurationError() throws Exception {
    Files.writeString(root.resolve("etc/machine-id"), "not-a-machine-id\n");

    Run r = deregister();

    assertEquals(78, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("/etc/machine-id is missing or not 32 hexadecimal digits"), r.err());
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void aCredentialFileThatIsNotACredentialIsAConfigurationError() throws Exception {
    credential("two words");

    Run r = deregister();

    assertEquals(78, r.code(), r.out() + r.err());
    assertTrue(r.err().startsWith("cannot read the VM's credential: "), r.err());
    assertFalse(r.err().contains("two words"), r.err());
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void aWrongTimeoutIsAUsageError() throws Exception {
    Run r = CliTest.cli("--root", root.toString(), "deregister", "--timeout", "soon");
    assertEquals(64, r.code(), r.err());
    assertTrue(r.err().contains("'soon' is not a duration"), r.err());
    assertNull(server.takeRequest(0, TimeUnit.SECONDS));
  }

  private Run deregister() {
    return CliTest.cli("--root", root.toString(), "deregister");
  }

  private void config(String source, boolean withCa) throws IOException {
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "bundle:\n  source: " + source + "\n"
        + (withCa ? "  caFile: " + caFile + "\n" : ""));
  }

  private void credential(String value) throws IOException {
    Path state = Files.createDirectories(root.resolve("var/lib/istio-vm-agent"));
    Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
    Path file = Files.writeString(state.resolve("credential"), value + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }

  private static void assertNoSecret(Run r) {
    assertFalse(r.out().contains(SECRET) || r.err().contains(SECRET), r.out() + r.err());
  }
}
