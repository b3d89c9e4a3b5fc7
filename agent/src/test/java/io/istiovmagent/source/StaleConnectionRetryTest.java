package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one retry the agent's HTTPS client makes, and the ones it does not: only a request that failed on a reused
 * connection before any response goes again, once, on a new connection; everything else is the caller's to back off.
 */
class StaleConnectionRetryTest {
  private static final HeldCertificate CA = TestTls.newCa("stale connection test CA");
  private static final SSLSocketFactory TLS = TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA);
  private static final Answer OK = Answer.of(200, "application/json", "{}".getBytes());
  private static final MediaType JSON = MediaType.get("application/json");

  @TempDir
  Path dir;

  private TinyHttpsServer server;

  @AfterEach
  void stop() throws IOException {
    server.close();
  }

  @Test
  void aRequestThatFailsOnANewConnectionIsNotRetried() throws Exception {
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30), r -> Answer.HANG_UP);
    OkHttpClient client = client(Duration.ofSeconds(2));

    assertThrows(IOException.class, () -> post(client));

    assertEquals(1, server.received.size(), "one attempt");
    assertEquals(1, server.connections());
  }

  @Test
  void aStaleConnectionIsRetriedOnceNotTwice() throws Exception {
    AtomicInteger n = new AtomicInteger();
    // The first request is answered; the server then closes the idle connection; the retry of the second request,
    // on a new connection, is hung up on as well.
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(1),
        r -> n.incrementAndGet() == 1 ? OK : Answer.HANG_UP);
    OkHttpClient client = client(Duration.ofSeconds(2));
    assertEquals(200, post(client));
    assertTrue(server.closedByServer.tryAcquire(10, TimeUnit.SECONDS));

    IOException e = assertThrows(IOException.class, () -> post(client));

    assertEquals(2, server.connections(), "one new connection for the retry, and no third");
    assertEquals(2, server.received.size(), "the stale connection's attempt never reached the server");
    assertEquals(1, e.getSuppressed().length, "the stale connection's failure rides along: " + e);
  }

  @Test
  void aTimeoutOnAReusedConnectionIsNotRetried() throws Exception {
    AtomicInteger n = new AtomicInteger();
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30),
        r -> n.incrementAndGet() == 1 ? OK : Answer.SILENCE);
    OkHttpClient client = client(Duration.ofMillis(500));
    assertEquals(200, post(client));

    assertThrows(InterruptedIOException.class, () -> post(client));

    assertEquals(1, server.connections(), "no new connection: the server took the request and did not answer");
    assertEquals(2, server.received.size());
  }

  @Test
  void aOneShotBodyIsNotSentTwice() throws Exception {
    server = TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(1), r -> OK);
    OkHttpClient client = client(Duration.ofSeconds(2));
    assertEquals(200, post(client));
    assertTrue(server.closedByServer.tryAcquire(10, TimeUnit.SECONDS));

    RequestBody oneShot = new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.writeUtf8("{}");
      }

      @Override
      public boolean isOneShot() {
        return true;
      }
    };
    assertThrows(IOException.class, () -> client.newCall(request().post(oneShot).build()).execute().close());
    assertEquals(1, server.connections());
  }

  private OkHttpClient client(Duration timeout) throws Exception {
    return HttpsClients.client(TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))), timeout, false);
  }

  private Request.Builder request() {
    return new Request.Builder().url("https://localhost:" + server.port() + "/v1/health");
  }

  private int post(OkHttpClient client) throws IOException {
    try (Response r = client.newCall(request().post(RequestBody.create("{}", JSON)).build()).execute()) {
      r.body().string();
      return r.code();
    }
  }
}
