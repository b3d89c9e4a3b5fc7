package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.source.BundleSource;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;

/**
 * Runs the network part of a fetch off the loop thread, so a source that stalls for up to twice bundle.timeout
 * never holds up the loop (the watchdog, drift repair, the sidecar and SIGTERM wait on nothing). One worker thread
 * for every fetch: a fetch abandoned by a reload is interrupted, and the next one queues behind it, so two never
 * reach the source at once however often the configuration changes. Its result is never taken: only the fetch
 * started last is. Started, abandoned and taken on the loop thread only.
 */
final class FetchRunner implements AutoCloseable {

  /** What one fetch brought back; a failure of the source (or a bug in it) is rethrown on the loop by {@link #get}. */
  record Outcome(Instant startedAt, Instant endedAt, FetchResult result, GatewayLookup lookup, Throwable failure) {
    FetchResult get() throws SourceException, BadBundleException {
      if (failure instanceof SourceException e) {
        throw e;
      }
      if (failure instanceof BadBundleException e) {
        throw e;
      }
      if (failure instanceof RuntimeException e) {
        throw e;
      }
      if (failure instanceof Error e) {
        throw e;
      }
      if (failure != null) {
        throw new IllegalStateException(failure);
      }
      return result;
    }
  }

  private final Clock clock;
  private final Log log;
  private Runnable wake = () -> {};
  // A daemon thread: a fetch under way must not keep the JVM alive on SIGTERM.
  private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "bundle-fetch");
    t.setDaemon(true);
    return t;
  });
  /** The fetch whose result the loop will take: at most one. */
  private FutureTask<Outcome> inFlight;

  FetchRunner(Clock clock, Log log) {
    this.clock = clock;
    this.log = log;
  }

  /** Run on the worker when a fetch has ended (or on the loop when one is abandoned), so the loop takes it at once. */
  void wakeWith(Runnable wake) {
    this.wake = wake;
  }

  boolean busy() {
    return inFlight != null;
  }

  /**
   * Starts a fetch; after a successful check (never before: a source that is down leaves the hosts entries as they
   * are), a DNS-only gateway's name is resolved on the same thread, so that an install uses fresh addresses.
   */
  void start(BundleSource source, Optional<String> etag, Optional<String> gateway, AgentDaemon.Resolver resolver) {
    FutureTask<Outcome> task = new FutureTask<>(() -> {
      Instant startedAt = clock.instant();
      try {
        FetchResult result = source.fetch(etag);
        GatewayLookup lookup = gateway.map(host -> GatewayLookup.of(resolver, host)).orElse(null);
        return new Outcome(startedAt, clock.instant(), result, lookup, null);
      } catch (SourceException | BadBundleException | RuntimeException | Error e) {
        return new Outcome(startedAt, clock.instant(), null, null, e);
      }
    }) {
      @Override
      protected void done() {
        wake.run();
      }
    };
    inFlight = task;
    worker.execute(task);
  }

  /**
   * The configuration the fetch under way was for is no longer in force: it is interrupted (it ends within twice
   * its timeout at the latest) and its result dropped; a fetch started meanwhile runs after it has ended.
   */
  void abandon() {
    FutureTask<Outcome> old = inFlight;
    inFlight = null;
    if (old != null && !old.isDone()) {
      old.cancel(true);
      log.debug("a fetch for the previous configuration is still under way; the next one starts when it has ended");
    }
  }

  /** The outcome of the fetch under way once it has ended, else empty. */
  Optional<Outcome> takeEnded() {
    if (inFlight == null || !inFlight.isDone()) {
      return Optional.empty();
    }
    FutureTask<Outcome> ended = inFlight;
    inFlight = null;
    try {
      return Optional.of(ended.get()); // it has ended: get() does not wait
    } catch (ExecutionException e) { // only a checked exception the source does not declare gets here
      return Optional.of(new Outcome(clock.instant(), clock.instant(), null, null, e.getCause()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }
}
