package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.TOKEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import okhttp3.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** stop(): new requests get 503 at once, a running one may finish within the grace, and no longer. */
class GracefulStopTest {
  @TempDir
  Path tmp;

  @Test
  void stopLetsARunningRequestFinishWhileRefusingNewOnes() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp, b -> b.stopGrace(Duration.ofSeconds(20)))) {
      ConcurrencyLimitTest.HeldBody held = new ConcurrencyLimitTest.HeldBody(
          ServerFixture.report("m-1", "STOPPING", 1, null));
      CompletableFuture<ServerFixture.Reply> running = post(f, held);
      assertTrue(held.started.await(20, TimeUnit.SECONDS));
      awaitHandling(f);

      CompletableFuture<Void> stopping = CompletableFuture.runAsync(f.server::stop);
      ServerFixture.Reply refused = awaitShuttingDown(f);
      assertEquals("1", refused.header("Retry-After"));

      held.release.countDown();
      assertEquals(200, running.get(20, TimeUnit.SECONDS).code(), "the running report was still taken");
      stopping.get(20, TimeUnit.SECONDS);
      assertTrue(f.log().contains("<5>onboarding endpoint stopped\n"), f.log());
    }
  }

  @Test
  void stopCutsOffARequestThatOutlastsTheGrace() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp, b -> b.stopGrace(Duration.ofMillis(200)))) {
      ConcurrencyLimitTest.HeldBody held = new ConcurrencyLimitTest.HeldBody(
          ServerFixture.report("m-1", "HEALTHY", 1, null));
      CompletableFuture<ServerFixture.Reply> running = post(f, held);
      assertTrue(held.started.await(20, TimeUnit.SECONDS));
      awaitHandling(f);

      assertTimeoutPreemptively(Duration.ofSeconds(5), f.server::stop);
      held.release.countDown();
      assertThrows(ExecutionException.class, () -> running.get(20, TimeUnit.SECONDS));
      assertTrue(f.log().contains("<5>onboarding endpoint stopped (requests still running were cut off)"), f.log());
    }
  }

  private static CompletableFuture<ServerFixture.Reply> post(ServerFixture f, ConcurrencyLimitTest.HeldBody body) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return f.call(new Request.Builder().url(f.url("/v1/health")).header("Authorization", "Bearer " + TOKEN)
            .post(body).build());
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
  }

  /** The body is under way, but the handler may not have begun: a request arriving as stop() begins gets 503. */
  private static void awaitHandling(ServerFixture f) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (f.server.requestsInFlight() == 0) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the held request never reached its handler");
      }
      Thread.onSpinWait();
    }
  }

  /** Asks until the stop, running in another thread, has closed the door; each answer comes at once. */
  private static ServerFixture.Reply awaitShuttingDown(ServerFixture f) throws Exception {
    for (int i = 0; i < 1000; i++) {
      ServerFixture.Reply r = f.get("/v1/bundle/vm-namespace/hello-vm", TOKEN);
      if (r.code() == 503 && r.text().contains("shutting down")) {
        return r;
      }
      assertEquals(200, r.code(), r.text());
      Thread.onSpinWait();
    }
    throw new AssertionError("stop() never began refusing requests");
  }
}
