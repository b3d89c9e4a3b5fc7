package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.HttpUrl;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The bundle fetch against servers of another make: an HTTP/1.0 server that closes the connection after every
 * answer, one that closes a connection idle for 1 s (the agent keeps one longer), and servers answering a 2xx that
 * carries no bundle.
 */
class HttpsSourceForeignServerTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final HeldCertificate CA = TestTls.newCa("foreign source test CA");
  private static final SSLSocketFactory TLS = TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA);
  private static final byte[] ARCHIVE = TarGzWriter.write(SampleBundle.generate(SampleBundle.Spec.defaults(), NOW));
  private static final String ETAG = "\"v1\"";

  @TempDir
  Path dir;

  private TinyHttpsServer server;

  @AfterEach
  void stop() throws IOException {
    if (server != null) {
      server.close();
    }
  }

  /** The bundle with its ETag, or 304 when asked with it: a plain static file server. */
  private static final Function<TinyHttpsServer.Received, Answer> STATIC = r -> ETAG.equals(r.header("If-None-Match"))
      ? new Answer(304, Map.of("ETag", ETAG), null)
      : new Answer(200, Map.of("Content-Type", "application/gzip", "ETag", ETAG), ARCHIVE);

  @Test
  void refetchesFromAnHttp10ServerThatClosesAfterEachAnswer() throws Exception {
    server = TinyHttpsServer.http10(TLS, STATIC);
    fetchTwiceAcrossTheServersClose();
  }

  @Test
  void refetchesFromAServerThatClosesAConnectionIdleFor1s() throws Exception {
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(1), STATIC);
    fetchTwiceAcrossTheServersClose();
  }

  /** The first fetch, the server's close of its connection, then the next refresh, as conditional as the daemon's. */
  private void fetchTwiceAcrossTheServersClose() throws Exception {
    HttpsSource source = source();
    FetchResult first = source.fetch(Optional.empty());
    assertEquals(Optional.of(ETAG), assertInstanceOf(FetchResult.Fetched.class, first).etag());
    assertTrue(server.closedByServer.tryAcquire(10, TimeUnit.SECONDS), "the server never closed the connection");

    FetchResult second = source.fetch(Optional.of(ETAG));

    assertInstanceOf(FetchResult.NotModified.class, second);
    assertEquals(2, server.connections(), "the second fetch on a new connection");
  }

  /** Only a 200 carries a bundle (and a 304 confirms one): any other 2xx is a server that is not a bundle source. */
  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {202, 204})
  void aSuccessWithoutABundleIsAProtocolFailure(int code) throws Exception {
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30),
        r -> code == 204 ? Answer.empty(204) : Answer.of(202, "text/plain", "queued\n".getBytes()));

    SourceException e = assertThrows(SourceException.class, () -> source().fetch(Optional.empty()));

    assertEquals(SourceException.Kind.PROTOCOL, e.kind());
    assertTrue(e.getMessage().contains("answered HTTP " + code + ", expected 200 with a gzip'd tar"), e.getMessage());
    assertEquals(1, server.received.size(), "not retried");
  }

  private HttpsSource source() throws Exception {
    return new HttpsSource(HttpUrl.get("https://localhost:" + server.port() + "/v1/bundle/ns/group"),
        TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))), Optional.empty(), Duration.ofSeconds(2),
        "test", Clock.fixed(NOW, ZoneOffset.UTC));
  }
}
