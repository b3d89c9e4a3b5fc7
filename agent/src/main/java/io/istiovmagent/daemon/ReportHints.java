package io.istiovmagent.daemon;

import io.istiovmagent.report.Reporter;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.HttpUrl;

/**
 * The reporter's hints (docs/protocol.md: fetchBundleNow, a confirmed bundle revision), from its thread to the
 * daemon's loop: each wakes the loop through its event queue, and the latest confirmation waits here to be taken.
 */
final class ReportHints {
  /** A report answer confirming a bundle revision. */
  record Confirmed(HttpUrl reportUrl, String revision, Instant sentAt) {}

  private final Runnable fetchNow;
  private final Runnable confirmed;
  /** The latest confirmation not yet taken by the loop (a newer one replaces it). */
  private final AtomicReference<Confirmed> latest = new AtomicReference<>();

  /** @param fetchNow queues FETCH_NOW; @param confirmed queues CONFIRMED (both safe from any thread) */
  ReportHints(Runnable fetchNow, Runnable confirmed) {
    this.fetchNow = fetchNow;
    this.confirmed = confirmed;
  }

  /** The hints of the reporter that reports to {@code reportUrl}. */
  Reporter.Hints forReporter(HttpUrl reportUrl) {
    return new Reporter.Hints() {
      @Override
      public void fetchBundleNow() {
        fetchNow.run();
      }

      @Override
      public void bundleConfirmed(String revision, Instant sentAt) {
        latest.set(new Confirmed(reportUrl, revision, sentAt));
        confirmed.run();
      }
    };
  }

  /** The latest confirmation, once. */
  Optional<Confirmed> take() {
    return Optional.ofNullable(latest.getAndSet(null));
  }
}
