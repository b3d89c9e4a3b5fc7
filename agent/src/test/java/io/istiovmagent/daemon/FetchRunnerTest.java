package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.source.BundleSource;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The fetch runner: one worker thread, an abandoned fetch interrupted and its answer never taken. */
class FetchRunnerTest {
  private static final long WAIT_S = 15;
  private final BlockingQueue<String> wakes = new LinkedBlockingQueue<>();

  private FetchRunner runner() {
    FetchRunner r = new FetchRunner(Clock.systemUTC(), new Log(new PrintStream(new ByteArrayOutputStream()), true));
    r.wakeWith(() -> wakes.add(Thread.currentThread().getName()));
    return r;
  }

  private static BundleSource source(FetchSource f) {
    return new BundleSource() {
      @Override
      public FetchResult fetch(Optional<String> etag) {
        return f.fetch();
      }

      @Override
      public String describe() {
        return "test";
      }
    };
  }

  interface FetchSource {
    FetchResult fetch();
  }

  private static final FetchResult UNCHANGED = new FetchResult.NotModified(Optional.of(Duration.ofMinutes(1)));

  @Test
  void anEndedFetchWakesTheLoopFromTheWorkerAndIsTakenOnce() throws Exception {
    try (FetchRunner r = runner()) {
      AtomicInteger calls = new AtomicInteger();
      r.start(source(() -> {
        calls.incrementAndGet();
        return UNCHANGED;
      }), Optional.empty(), Optional.empty(), null);
      assertTrue(r.busy());
      assertEquals("bundle-fetch", wakes.poll(WAIT_S, TimeUnit.SECONDS));
      FetchRunner.Outcome o = r.takeEnded().orElseThrow();
      assertEquals(UNCHANGED, o.get());
      assertFalse(r.busy());
      assertTrue(r.takeEnded().isEmpty(), "taken twice");
      assertEquals(1, calls.get());
    }
  }

  @Test
  void anAbandonedFetchIsInterruptedItsAnswerDroppedAndTheNextRunsOnlyAfterIt() throws Exception {
    try (FetchRunner r = runner()) {
      CountDownLatch arrived = new CountDownLatch(1);
      CountDownLatch interrupted = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      AtomicInteger active = new AtomicInteger();
      AtomicInteger mostAtOnce = new AtomicInteger();
      BlockingQueue<String> threads = new LinkedBlockingQueue<>();
      r.start(source(() -> {
        mostAtOnce.accumulateAndGet(active.incrementAndGet(), Math::max);
        threads.add(Thread.currentThread().getName());
        arrived.countDown();
        try {
          new CountDownLatch(1).await(60, TimeUnit.SECONDS); // a stalled source: only the interrupt ends it
        } catch (InterruptedException e) {
          interrupted.countDown();
          try {
            release.await(WAIT_S, TimeUnit.SECONDS); // still busy after the interrupt, as a slow close would be
          } catch (InterruptedException again) {
            Thread.currentThread().interrupt();
          }
        } finally {
          active.decrementAndGet();
        }
        throw new IllegalStateException("the abandoned fetch's answer");
      }), Optional.empty(), Optional.empty(), null);
      assertTrue(arrived.await(WAIT_S, TimeUnit.SECONDS));

      r.abandon();
      assertTrue(interrupted.await(WAIT_S, TimeUnit.SECONDS), "the abandoned fetch was not interrupted");
      assertFalse(r.busy());
      AtomicInteger second = new AtomicInteger();
      r.start(source(() -> {
        mostAtOnce.accumulateAndGet(active.incrementAndGet(), Math::max);
        threads.add(Thread.currentThread().getName());
        second.incrementAndGet();
        active.decrementAndGet();
        return UNCHANGED;
      }), Optional.empty(), Optional.empty(), null);
      assertTrue(r.takeEnded().isEmpty(), "the next fetch ended while the abandoned one still ran");
      assertEquals(0, second.get());

      wakes.clear(); // abandoning woke the loop too, from the loop's own thread
      release.countDown();
      assertEquals("bundle-fetch", wakes.poll(WAIT_S, TimeUnit.SECONDS));
      FetchRunner.Outcome o = r.takeEnded().orElseThrow();
      assertInstanceOf(FetchResult.NotModified.class, o.get(), "the abandoned fetch's answer was taken");
      assertEquals(1, second.get());
      assertEquals(1, mostAtOnce.get(), "fetches at once");
      assertEquals(threads.poll(), threads.poll(), "both fetches on the one worker thread");
    }
  }
}
