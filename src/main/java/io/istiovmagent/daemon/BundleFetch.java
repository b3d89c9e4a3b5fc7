package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleSource;
import io.istiovmagent.bundle.FetchResult;
import io.istiovmagent.bundle.SourceException;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

/**
 * One fetch from the source, on a daemon thread of its own (it must not keep the JVM alive on SIGTERM). Only the
 * source is touched there; the outcome is taken on the loop thread.
 */
final class BundleFetch {
  final Instant startedAt;
  private Thread thread;
  private volatile boolean done;
  private FetchResult result;
  GatewayLookup lookup;
  private Exception failure;
  private RuntimeException crash;
  private Error error;
  Instant endedAt;

  private BundleFetch(Instant startedAt) {
    this.startedAt = startedAt;
  }

  static BundleFetch start(BundleSource source, Optional<String> etag, Instant now, Clock clock, Runnable wake,
      Optional<String> gateway, AgentDaemon.Resolver resolver) {
    BundleFetch f = new BundleFetch(now);
    Thread t = new Thread(() -> {
      try {
        f.result = source.fetch(etag);
        // After a successful check, never before: a source that is down leaves the hosts entries as they are.
        f.lookup = gateway.map(host -> GatewayLookup.of(resolver, host)).orElse(null);
      } catch (SourceException | BadBundleException e) {
        f.failure = e;
      } catch (RuntimeException e) {
        f.crash = e;
      } catch (Error e) {
        f.error = e;
      } finally {
        f.endedAt = clock.instant();
        f.done = true; // the volatile write publishes the fields above to the loop
        wake.run();
      }
    }, "bundle-fetch");
    t.setDaemon(true);
    f.thread = t;
    t.start();
    return f;
  }

  /** Asks the fetch to end early; it still wakes the loop when it has. */
  void abandon() {
    thread.interrupt();
  }

  boolean done() {
    return done;
  }

  /** The source's answer, or what it threw; a bug in the source (or an Error) is rethrown on the loop. */
  FetchResult get() throws SourceException, BadBundleException {
    if (error != null) {
      throw error;
    }
    if (crash != null) {
      throw crash;
    }
    if (failure instanceof SourceException e) {
      throw e;
    }
    if (failure instanceof BadBundleException e) {
      throw e;
    }
    return result;
  }
}
