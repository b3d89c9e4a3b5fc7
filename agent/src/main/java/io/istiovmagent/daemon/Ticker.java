package io.istiovmagent.daemon;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * How the daemon's loop waits between passes: for the next event on its queue, at most the time the parts asked
 * for (a tick, the next fetch, the watchdog's ping). The daemon's is {@link #QUEUE}; a test injects its own (one that
 * wedges the loop, say) or drives the passes itself with {@link AgentDaemon#runOnce}.
 */
interface Ticker {
  /** Waits up to {@code millis} for an event; null when the wait ended without one. */
  <E> E await(BlockingQueue<E> events, long millis) throws InterruptedException;

  /** Waits on the queue itself. */
  Ticker QUEUE = new Ticker() {
    @Override
    public <E> E await(BlockingQueue<E> events, long millis) throws InterruptedException {
      return events.poll(millis, TimeUnit.MILLISECONDS);
    }
  };
}
