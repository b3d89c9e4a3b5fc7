package io.istiovmagent.server;

import java.time.Duration;

/** Counts requests being handled, so a stop can let them finish (for a bounded time) and refuse new ones. */
final class InFlight {
  private int count;
  private boolean closed;

  /** False once closing began: the caller answers 503 instead of starting work. */
  synchronized boolean enter() {
    if (closed) {
      return false;
    }
    count++;
    return true;
  }

  synchronized void exit() {
    if (--count == 0) {
      notifyAll();
    }
  }

  synchronized int count() {
    return count;
  }

  /** Refuses new requests, then waits at most {@code grace} for the running ones; true if none is left. */
  synchronized boolean closeAndAwait(Duration grace) throws InterruptedException {
    closed = true;
    long deadline = System.nanoTime() + grace.toNanos();
    while (count > 0) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      wait(Math.max(1, left / 1_000_000));
    }
    return true;
  }
}
