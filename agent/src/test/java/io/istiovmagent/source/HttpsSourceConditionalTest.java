package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.TestTls;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Conditional fetches: an unchanged bundle costs a 304 and nothing else. */
class HttpsSourceConditionalTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final HeldCertificate CA = TestTls.newCa("conditional test CA");

  @TempDir
  Path dir;

  @Test
  void sendsIfNoneMatchAndTurns304IntoNotModified() throws Exception {
    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      byte[] archive = TarGzWriter.write(SampleBundle.generate(SampleBundle.Spec.defaults(), NOW));
      server.enqueue(new MockResponse.Builder().addHeader("ETag", "\"rev-1\"")
          .addHeader("Cache-Control", "max-age=300").body(new Buffer().write(archive)).build());
      server.enqueue(new MockResponse.Builder().code(304).addHeader("Cache-Control", "max-age=600").build());
      BundleSource source = BundleSources.open("https://localhost:" + server.getPort() + "/v1/bundle",
          new BundleSources.Transport(Optional.of(TestTls.writeCaPem(dir, CA)), Optional.empty(),
              Duration.ofSeconds(2), "test", Clock.fixed(NOW, ZoneOffset.UTC)));

      FetchResult.Fetched first = assertInstanceOf(FetchResult.Fetched.class, source.fetch(Optional.empty()));
      assertEquals(Optional.of("\"rev-1\""), first.etag());
      assertEquals(Optional.of(Duration.ofMinutes(5)), first.maxAge());
      assertNull(server.takeRequest().getHeaders().get("If-None-Match"));

      FetchResult second = source.fetch(first.etag());
      assertEquals(new FetchResult.NotModified(Optional.of(Duration.ofMinutes(10))), second);
      assertEquals("\"rev-1\"", server.takeRequest().getHeaders().get("If-None-Match"));
    }
  }

  @Test
  void a304WithoutHavingAskedIsAnError() throws Exception {
    try (MockWebServer server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA)) {
      server.enqueue(new MockResponse.Builder().code(304).build());
      BundleSource source = BundleSources.open("https://localhost:" + server.getPort() + "/v1/bundle",
          new BundleSources.Transport(Optional.of(TestTls.writeCaPem(dir, CA)), Optional.empty(),
              Duration.ofSeconds(2), "test", Clock.fixed(NOW, ZoneOffset.UTC)));
      SourceException e = org.junit.jupiter.api.Assertions.assertThrows(SourceException.class,
          () -> source.fetch(Optional.empty()));
      assertEquals(SourceException.Kind.PROTOCOL, e.kind());
    }
  }
}
