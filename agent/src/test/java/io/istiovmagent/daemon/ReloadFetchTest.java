package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.sample.SampleBundle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reload while a fetch is under way: the old fetch never runs beside the new one, and its result is dropped. */
class ReloadFetchTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir
  Path tmp;

  @Test
  void aFetchAbandonedByAReloadNeverOverlapsTheNextAndItsAnswerIsDropped() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      CountDownLatch firstArrived = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      AtomicInteger active = new AtomicInteger();
      AtomicInteger mostAtOnce = new AtomicInteger();
      AtomicInteger seen = new AtomicInteger();
      h.respond.set(r -> {
        mostAtOnce.accumulateAndGet(active.incrementAndGet(), Math::max);
        try {
          if (seen.incrementAndGet() == 1) {
            firstArrived.countDown();
            release.await(30, TimeUnit.SECONDS);
            // What the old configuration's fetch brings back: were it taken, the status would say so.
            return new MockResponse.Builder().code(404).build();
          }
          return h.bundleResponse(SampleBundle.Spec.defaults());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return new MockResponse.Builder().code(500).build();
        } finally {
          active.decrementAndGet();
        }
      });
      h.start();
      assertTrue(firstArrived.await(15, TimeUnit.SECONDS), "the first fetch\n" + h.logs());
      // A reload that changes the bundle's section: the fetch under way is for a configuration no longer in force.
      h.writeConfig(Files.readString(h.configPath).replace("bundle:\n", "bundle:\n  timeout: 20s\n"));
      h.daemon.requestReload();
      // Either the daemon says it waits for the abandoned fetch, or (the defect) a second fetch reaches the source.
      h.await("the reload", WAIT, () -> h.logs().contains("is still under way") || h.bundleRequests.get() > 1);
      assertEquals(1, h.bundleRequests.get(), "a second fetch ran beside the abandoned one\n" + h.logs());

      release.countDown();
      h.await("the bundle from the new configuration's fetch", WAIT, () -> Files.isRegularFile(h.token()));
      assertEquals(1, mostAtOnce.get(), "fetches at once");
      assertEquals(2, h.bundleRequests.get());
      assertFalse(h.logs().contains("no bundle at"), "the abandoned fetch's answer was taken\n" + h.logs());
      assertTrue(h.running());
    }
  }
}
