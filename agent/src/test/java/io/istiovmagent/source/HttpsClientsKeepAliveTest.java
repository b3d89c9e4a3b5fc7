package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The agent's HTTPS client against a server that closes a connection once it has been idle for a while, as every
 * real server does (Apache httpd after 5 s, the reference endpoint's JDK server after ~30 s). A request must not fail
 * on a pooled connection the server has closed: the short keep-alive drops it first, and a request that meets one
 * anyway goes again on a new connection (StaleConnectionRetryTest, HttpsSourceForeignServerTest).
 */
class HttpsClientsKeepAliveTest {
  private static final HeldCertificate CA = TestTls.newCa("keep-alive test CA");
  /** The server's idle timeout: Apache httpd's default, the shortest of the common ones. */
  private static final Duration SERVER_IDLE = Duration.ofSeconds(5);

  @TempDir
  Path dir;

  private TinyHttpsServer server;

  @BeforeEach
  void start() throws IOException {
    server = TinyHttpsServer.idleClosing(TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA),
        SERVER_IDLE, r -> Answer.of(200, "application/json", "{\"accepted\":true}".getBytes(StandardCharsets.US_ASCII)));
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
  }

  @Test
  void keepsIdleConnectionsForLessThanTheShortestCommonServerIdleTimeout() {
    assertTrue(HttpsClients.KEEP_ALIVE.compareTo(SERVER_IDLE) < 0, "keep-alive " + HttpsClients.KEEP_ALIVE);
  }

  /** GET: a bundle fetch (OkHttp never checks a pooled connection before a GET); POST: a report idle under 10 s. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"GET", "POST"})
  void aSecondRequestAfterTheServerClosedTheIdleConnectionSucceeds(String method) throws Exception {
    OkHttpClient client = HttpsClients.client(TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))),
        Duration.ofSeconds(5), true);
    assertEquals(200, call(client, method));
    long idleSince = System.nanoTime();
    // The first connection ends, on the server's side: the server closes it after SERVER_IDLE, unless the client
    // dropped it from its pool (and closed it) before. Waited for, deterministically.
    assertTrue(server.ended.tryAcquire(30, TimeUnit.SECONDS), "the first connection never ended");
    // The client's pool drops an idle connection KEEP_ALIVE after its request, on a thread of its own: done before
    // the connection can end above, unless the server ended it first, as it does with a keep-alive longer than its
    // idle timeout (OkHttp's default, 5 minutes), which this then waits out in vain. The wait ends 8 s after the
    // first request (4 s past KEEP_ALIVE): the POST must go out before 10 s of idleness, after which OkHttp would
    // check the connection and the POST variant could not fail.
    long deadline = idleSince + Duration.ofSeconds(8).toNanos();
    while (client.connectionPool().connectionCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    // The second request comes more than the server's idle timeout after the first, as the next refresh or
    // heartbeat does.
    long spaced = SERVER_IDLE.plusMillis(200).toNanos() - (System.nanoTime() - idleSince);
    if (spaced > 0) {
      Thread.sleep(spaced / 1_000_000 + 1);
    }
    assertEquals(200, call(client, method), "the second " + method + " after the server closed the first connection");
    assertEquals(2, server.connections(), "a new connection for the second request");
  }

  private int call(OkHttpClient client, String method) throws IOException {
    Request.Builder rb = new Request.Builder().url("https://localhost:" + server.port() + "/v1/x");
    if (method.equals("POST")) {
      rb.post(RequestBody.create("{}", MediaType.get("application/json")));
    }
    try (Response r = client.newCall(rb.build()).execute()) {
      r.body().string();
      return r.code();
    }
  }
}
