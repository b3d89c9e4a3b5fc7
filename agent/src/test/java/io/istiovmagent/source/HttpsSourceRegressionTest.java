package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.TestTls;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Optional;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regressions for bugs found while writing HttpsSourceTest: each failed before its fix. Kept apart from
 * HttpsSourceTest because they share one server and source set up per test.
 */
class HttpsSourceRegressionTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final HeldCertificate CA = TestTls.newCa("istio-vm-agent test CA");
  private static final HeldCertificate SERVER_CERT = TestTls.serverCert(CA, "localhost", "127.0.0.1");
  private static final Map<BundleFile, byte[]> FILES = SampleBundle.generate(SampleBundle.Spec.defaults(), NOW);
  private static final byte[] ARCHIVE = TarGzWriter.write(FILES);

  @TempDir Path dir;
  private MockWebServer server;
  private BundleSource source;

  @BeforeEach
  void start() throws Exception {
    server = TestTls.startHttps(SERVER_CERT, CA);
    source = BundleSources.open("https://localhost:" + server.getPort() + "/bundle.tar.gz",
        new BundleSources.Transport(Optional.of(TestTls.writeCaPem(dir, CA)), Optional.empty(),
            Duration.ofSeconds(2), "istio-vm-agent/test", CLOCK));
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /** Bug 1: OkHttp adds Accept-Encoding: gzip and silently gunzips a .tar.gz served with Content-Encoding: gzip. */
  @Test
  void archiveServedWithContentEncodingGzipIsReadAsIs() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).addHeader("Content-Type", "application/gzip")
        .addHeader("Content-Encoding", "gzip").body(new Buffer().write(ARCHIVE)).build());

    RawBundle bundle = source.fetch();

    assertEquals(new RawBundle(FILES).revision(), bundle.revision());
    assertEquals("identity", server.takeRequest().getHeaders().get("Accept-Encoding"));
  }

  /** Bug 2: a 3xx the client did not follow, with no Location, is reported as a refused redirect to https. */
  @Test
  void redirectWithoutLocationIsNotReportedAsHttpsRedirectRefusal() throws Exception {
    server.enqueue(new MockResponse.Builder().code(302).build());

    SourceException e = assertThrows(SourceException.class, source::fetch);

    assertEquals(SourceException.Kind.PROTOCOL, e.kind());
    assertTrue(e.getMessage().contains("HTTP 302"), e.getMessage());
    assertFalse(e.getMessage().contains("only redirects to https:// are followed"), e.getMessage());
  }

  /** Bug 3: Retry-After in seconds is capped at a day, as an HTTP-date it is not. */
  @Test
  void retryAfterHttpDateIsCappedLikeSeconds() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503)
        .addHeader("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT").build());

    SourceException e = assertThrows(SourceException.class, source::fetch);

    assertEquals(Optional.of(Duration.ofDays(1)), e.retryAfter());
  }

  /** Bug 4: a token file that is a symlink is judged by the link's own mode (0777), so chmod 600 cannot help. */
  @Test
  void symlinkedTokenFileIsJudgedByTheFileItNamesNotTheLink() throws Exception {
    Path real = Files.createFile(dir.resolve("token"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(real, "join-token-value\n", StandardCharsets.US_ASCII);
    Path link = Files.createSymbolicLink(dir.resolve("token-link"), real);

    assertEquals("Bearer join-token-value", BearerToken.readFile(link).headerValue());

    Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rw-r--r--"));
    SourceConfigException e = assertThrows(SourceConfigException.class, () -> BearerToken.readFile(link));
    assertTrue(e.getMessage().contains("(mode 0644)"), e.getMessage());
  }
}
