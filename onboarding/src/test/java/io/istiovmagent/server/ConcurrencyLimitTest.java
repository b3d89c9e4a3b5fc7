package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.TOKEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded concurrency, made deterministic: one worker and no queue, held by a request whose body the client sends
 * only when the test says so. While it is held, every other request is answered 503 with Retry-After.
 */
class ConcurrencyLimitTest {
  private static final String PATH = "/v1/bundle/vm-namespace/hello-vm";

  @TempDir
  Path tmp;

  /** A health report whose second half waits for {@code release}; {@code started} fires once the first half is out. */
  static final class HeldBody extends RequestBody {
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    private final byte[] bytes;

    HeldBody(String body) {
      bytes = body.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public MediaType contentType() {
      return ServerFixture.JSON;
    }

    @Override
    public long contentLength() {
      return bytes.length;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      sink.write(bytes, 0, 10);
      sink.flush();
      started.countDown();
      try {
        if (!release.await(30, TimeUnit.SECONDS)) {
          throw new IOException("the test never released the body");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      sink.write(bytes, 10, bytes.length - 10);
    }
  }

  @Test
  void aSaturatedEndpointAnswers503WithRetryAfterInsteadOfQueueing() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp, b -> b.concurrency(1, 0))) {
      HeldBody held = new HeldBody(ServerFixture.report("m-1", "HEALTHY", 1, null));
      CompletableFuture<ServerFixture.Reply> first = CompletableFuture.supplyAsync(() -> {
        try {
          return f.call(new Request.Builder().url(f.url("/v1/health")).header("Authorization", "Bearer " + TOKEN)
              .post(held).build());
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      // The body only starts after the TLS handshake, which the server does on its one worker: it is now busy.
      assertTrue(held.started.await(20, TimeUnit.SECONDS), "the first request never got going");

      ServerFixture.Reply shed = f.get(PATH, TOKEN);
      assertEquals(503, shed.code(), shed.text());
      int retryAfter = Integer.parseInt(shed.header("Retry-After"));
      assertTrue(retryAfter >= 1 && retryAfter <= Router.BUSY_RETRY_AFTER_MAX, "Retry-After " + retryAfter);
      assertTrue(shed.json().get("error").asText().contains("busy"), shed.text());

      held.release.countDown();
      ServerFixture.Reply done = first.get(20, TimeUnit.SECONDS);
      assertEquals(200, done.code(), "the held request still completes: " + done.text());
      assertEquals(200, f.get(PATH, TOKEN).code(), "with the worker free again, requests are served");
    }
  }

  @Test
  void stopIsPromptWhenIdleAndTheEndpointThenRefusesConnections() throws Exception {
    ServerFixture f = ServerFixture.start(tmp);
    assertEquals(200, f.get(PATH, TOKEN).code());
    int port = f.server.port();
    assertTimeoutPreemptively(Duration.ofSeconds(2), f::close,
        "Java 17's HttpServer.stop(n) waits n seconds even when idle; ours must not");
    try (java.net.Socket s = new java.net.Socket()) {
      s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 1000);
      throw new AssertionError("still accepting connections after stop");
    } catch (java.net.ConnectException expected) {
      // refused: the listener is gone
    }
  }
}
