package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Enrolment as the agent does it, against servers that are not ours: one that enrols, one that does not know the
 * path (404), one that answers everything with the bundle, one that revokes.
 */
class CredentialsTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final HeldCertificate CA = TestTls.newCa("credentials test CA");
  private static final String JOIN = "abcdef.0123456789abcdefghijklmnop";
  private static final String MACHINE = "5f0c6d1e000040008000000000000001";
  private static final String CREDENTIAL = "vmc.bar." + MACHINE + ".0123456789abcdefghijklmnopqrstuv";

  @TempDir
  Path dir;
  private Path state;
  private Path joinFile;
  private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
  private final Log log = new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), false);
  private byte[] archive;

  @BeforeEach
  void files() throws Exception {
    state = dir.resolve("state");
    joinFile = Files.writeString(dir.resolve("join-token"), JOIN + "\n");
    Files.setPosixFilePermissions(joinFile, PosixFilePermissions.fromString("rw-------"));
    archive = TarGzWriter.write(SampleBundle.generate(SampleBundle.Spec.defaults(), NOW));
  }

  private Credentials credentials() {
    return Credentials.load(Optional.of(joinFile), state, () -> new HealthReport.Host("vm-1", MACHINE, List.of("10.0.0.7")),
        log);
  }

  private BundleSource source(MockWebServer server, Credentials c) throws Exception {
    Path ca = TestTls.writeCaPem(dir, CA);
    return BundleSources.open("https://localhost:" + server.getPort() + "/v1/bundle/bar/foo",
        new BundleSources.Transport(() -> TlsTrust.trustManager(Optional.of(ca)), Optional.of(joinFile),
            Duration.ofSeconds(2), "test", Clock.fixed(NOW, ZoneOffset.UTC), HttpsClients.NO_EVENTS, Optional.of(c)));
  }

  private MockResponse bundle() {
    return new MockResponse.Builder().body(new Buffer().write(archive)).build();
  }

  private static MockResponse enrolled() {
    return new MockResponse.Builder().code(201).addHeader("Content-Type", "application/json")
        .body("{\"credential\":\"" + CREDENTIAL + "\",\"namespace\":\"bar\",\"group\":\"foo\"}").build();
  }

  @Test
  void enrolsOnceThenSendsItsOwnCredentialKeptOwnerOnly() throws Exception {
    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      server.enqueue(enrolled());
      server.enqueue(bundle());
      server.enqueue(bundle());
      Credentials c = credentials();
      BundleSource s = source(server, c);
      assertInstanceOf(FetchResult.Fetched.class, s.fetch(Optional.empty()));
      RecordedRequest enrol = server.takeRequest();
      assertEquals("POST", enrol.getMethod());
      assertEquals("/v1/enroll/bar/foo", enrol.getTarget());
      assertEquals("Bearer " + JOIN, enrol.getHeaders().get("Authorization"));
      assertEquals("{\"machineId\":\"" + MACHINE + "\",\"hostname\":\"vm-1\",\"addresses\":[\"10.0.0.7\"]}",
          enrol.getBody().utf8());
      assertEquals("Bearer " + CREDENTIAL, server.takeRequest().getHeaders().get("Authorization"));
      assertTrue(c.enrolled());
      Path file = state.resolve("credential");
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      assertEquals(CREDENTIAL + "\n", Files.readString(file));

      Files.delete(joinFile); // the join token may go: the credential is enough
      s.fetch(Optional.empty());
      assertEquals("Bearer " + CREDENTIAL, server.takeRequest().getHeaders().get("Authorization"));
      assertTrue(credentials().enrolled(), "a restarted agent finds its credential");
      assertFalse(logBytes.toString(StandardCharsets.UTF_8).contains(CREDENTIAL.substring(41)));
    }
  }

  /** A revoked credential is dropped; the next fetch enrols again with the join token. */
  @Test
  void aRejectedCredentialIsDroppedAndTheVmEnrolsAgain() throws Exception {
    Files.createDirectories(state);
    Files.writeString(state.resolve("credential"), CREDENTIAL + "\n");
    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      server.enqueue(new MockResponse.Builder().code(401).build());
      server.enqueue(enrolled());
      server.enqueue(bundle());
      Credentials c = credentials();
      BundleSource s = source(server, c);
      SourceException e = assertThrows(SourceException.class, () -> s.fetch(Optional.empty()));
      assertEquals(SourceException.Kind.CREDENTIAL_REJECTED, e.kind());
      assertTrue(e.getMessage().contains("it enrols again with its join token"), e.getMessage());
      assertFalse(c.enrolled());
      assertFalse(Files.exists(state.resolve("credential")));
      assertEquals("Bearer " + CREDENTIAL, server.takeRequest().getHeaders().get("Authorization"));

      assertInstanceOf(FetchResult.Fetched.class, s.fetch(Optional.empty()));
      assertEquals("/v1/enroll/bar/foo", server.takeRequest().getTarget());
      assertTrue(c.enrolled());
    }
  }

  /** A directory of istioctl output (404), or a plain server that answers every path with the bundle. */
  @Test
  void aSourceThatDoesNotEnrolGetsTheJoinToken() throws Exception {
    for (MockResponse enrolAnswer : List.of(new MockResponse.Builder().code(404).build(), bundle(),
        new MockResponse.Builder().code(405).build())) {
      try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
        server.enqueue(enrolAnswer);
        server.enqueue(bundle());
        server.enqueue(bundle());
        Credentials c = credentials();
        BundleSource s = source(server, c);
        assertInstanceOf(FetchResult.Fetched.class, s.fetch(Optional.empty()));
        s.fetch(Optional.empty());
        assertEquals("/v1/enroll/bar/foo", server.takeRequest().getTarget());
        assertEquals("Bearer " + JOIN, server.takeRequest().getHeaders().get("Authorization"));
        RecordedRequest third = server.takeRequest();
        assertEquals("/v1/bundle/bar/foo", third.getTarget(), "asked once, not at every fetch");
        assertEquals("Bearer " + JOIN, third.getHeaders().get("Authorization"));
        assertFalse(c.enrolled());
      }
    }
  }

  @Test
  void refusalsSayWhyAndUnavailabilityIsRetried() throws Exception {
    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      server.enqueue(new MockResponse.Builder().code(409).addHeader("Content-Type", "application/json")
          .body("{\"error\":\"machine " + MACHINE + " is already enrolled in bar\"}").build());
      server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "7").build());
      BundleSource s = source(server, credentials());
      SourceException conflict = assertThrows(SourceException.class, () -> s.fetch(Optional.empty()));
      assertEquals(SourceException.Kind.CREDENTIAL_REJECTED, conflict.kind());
      assertTrue(conflict.getMessage().contains("enrolment refused (HTTP 409) by localhost:" + server.getPort()
          + ": machine " + MACHINE + " is already enrolled in bar"), conflict.getMessage());
      SourceException busy = assertThrows(SourceException.class, () -> s.fetch(Optional.empty()));
      assertEquals(SourceException.Kind.UNAVAILABLE, busy.kind());
      assertEquals(Optional.of(Duration.ofSeconds(7)), busy.retryAfter());
    }
  }

  /** A link planted where the credential goes is not read; a one-off command never enrols. */
  @Test
  void aLinkIsNotACredentialAndCommandsDoNotEnrol() throws Exception {
    Files.createDirectories(state);
    Path elsewhere = Files.writeString(dir.resolve("elsewhere"), CREDENTIAL + "\n");
    Files.createSymbolicLink(state.resolve("credential"), elsewhere);
    assertFalse(credentials().enrolled());
    assertTrue(logBytes.toString(StandardCharsets.UTF_8).contains("ignoring the stored credential"));

    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      server.enqueue(bundle());
      BundleSource s = source(server, Credentials.readOnly(Optional.of(joinFile), state, log));
      assertInstanceOf(FetchResult.Fetched.class, s.fetch(Optional.empty()));
      assertEquals("/v1/bundle/bar/foo", server.takeRequest().getTarget());
      assertEquals(1, server.getRequestCount());
    }
  }
}
