package io.istiovmagent.daemon;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One part's blocking calls (systemctl, a readiness probe, DNS), one at a time on a worker thread of the part's own,
 * so that the daemon's loop, which pings the watchdog, never waits on them. A call's result comes back through a queue
 * and is applied on the loop thread ({@link #takeFinished}), so the part's state is only ever touched there; the
 * worker wakes the loop when a result is waiting.
 */
final class IoLane implements AutoCloseable {
  private final Executor worker;
  private final ExecutorService owned;
  private final BlockingQueue<Runnable> finished = new LinkedBlockingQueue<>();
  private volatile Runnable wake = () -> {};
  private boolean busy;

  /** A lane with a daemon thread of its own (it must not keep the JVM alive on SIGTERM). */
  IoLane(String threadName) {
    this.owned = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
    this.worker = owned;
  }

  /** A lane on a given executor: a test passes {@code Runnable::run} to have every call done within the tick. */
  IoLane(Executor worker) {
    this.owned = null;
    this.worker = worker;
  }

  /** Called on the worker when a result is waiting (not when the call ran on the loop's own thread). */
  void wakeWith(Runnable wake) {
    this.wake = wake;
  }

  /** Whether a call is under way or its result not yet taken: a part starts no second one meanwhile. */
  boolean busy() {
    return busy;
  }

  /** Whether a result is waiting to be taken. */
  boolean hasFinished() {
    return !finished.isEmpty();
  }

  /**
   * Runs {@code call} on the worker; {@code onLoop} gets its result on the loop thread. A call that throws has its
   * exception rethrown on the loop, where the step's guard reports it.
   */
  <T> void submit(Supplier<T> call, Consumer<T> onLoop) {
    busy = true;
    Thread caller = Thread.currentThread();
    try {
      worker.execute(() -> {
        Runnable done;
        try {
          T result = call.get();
          done = () -> onLoop.accept(result);
        } catch (RuntimeException e) {
          done = () -> {
            throw e;
          };
        }
        finished.add(done);
        if (Thread.currentThread() != caller) {
          wake.run();
        }
      });
    } catch (RejectedExecutionException closed) {
      busy = false;
    }
  }

  /** Applies every result that is waiting; returns whether there was one. Loop thread only. */
  boolean takeFinished() {
    boolean took = false;
    for (Runnable r; (r = finished.poll()) != null; ) {
      busy = false;
      took = true;
      r.run();
    }
    return took;
  }

  /** Waits up to {@code timeout} for a result and applies it; for the start, before the loop runs. */
  boolean awaitFinished(Duration timeout) {
    try {
      Runnable r = finished.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (r == null) {
        return false;
      }
      busy = false;
      r.run();
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Interrupts a call under way and takes no more; never waits. */
  @Override
  public void close() {
    if (owned != null) {
      owned.shutdownNow();
    }
  }
}
