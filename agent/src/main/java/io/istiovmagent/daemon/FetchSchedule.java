package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * When to fetch the bundle next, and with which ETag: {@link RefreshPolicy} after a check, {@link Backoff} after a
 * failure, {@link ConfirmationPolicy} on a report answer. Pure: driven by {@link #checked}, {@link #onFetched},
 * {@link #onNotModified}, {@link #onFailed} and {@link #onConfirmed} with the time passed in; it outlives a reload
 * that leaves the bundle's section alone.
 */
final class FetchSchedule {
  private final RandomGenerator random;
  private AgentConfig.Bundle config;
  private Instant lastCheckedAt;
  /** The source has answered since the last {@link #reset}: a failure now is of a refresh, not of the first fetch. */
  private boolean answered;
  /** The last report answer that counted as a check of the bundle (see {@link ConfirmationPolicy}). */
  private Instant confirmedAt;
  /** The next fetch and the rule that chose it, after a success; null after a failure (the backoff chose it). */
  private RefreshPolicy.Next scheduled;
  /** The installed token's window as the schedule saw it. */
  private Optional<RefreshPolicy.TokenWindow> scheduledToken = Optional.empty();
  private Optional<String> etag = Optional.empty();
  private int failures;
  private Instant nextAt;
  /** A fetch was asked for while one was under way: the next one is due as soon as it ends. */
  private boolean again;

  FetchSchedule(RandomGenerator random, Instant now) {
    this.random = random;
    this.nextAt = now;
  }

  /** A new source (or new rules for it): no ETag, no failures, due at once. */
  void reset(AgentConfig.Bundle config, Instant now) {
    this.config = config;
    etag = Optional.empty();
    answered = false;
    failures = 0;
    nextAt = now;
    scheduled = null;
    again = false;
  }

  Instant nextAt() {
    return nextAt;
  }

  Optional<String> etag() {
    return etag;
  }

  Instant lastCheckedAt() {
    return lastCheckedAt;
  }

  Instant confirmedAt() {
    return confirmedAt;
  }

  /** Asked to fetch now: at once, or as soon as the fetch {@code underWay} has ended. */
  void fetchNow(Instant now, boolean underWay) {
    if (underWay) {
      again = true;
    } else {
      nextAt = now;
    }
  }

  /** The source answered at {@code at} (whatever verifying and installing then make of it). */
  void checked(Instant at) {
    lastCheckedAt = at;
    answered = true;
  }

  /** A new bundle was installed; the next check follows the refresh policy and the new token. */
  void onFetched(Optional<String> etag, TokenClaims token) {
    this.etag = etag;
    onNotModified(token);
  }

  /** The installed bundle is still current (HTTP 304). */
  void onNotModified(TokenClaims token) {
    failures = 0;
    Optional<RefreshPolicy.TokenWindow> window = RefreshPolicy.TokenWindow.of(token, lastCheckedAt);
    scheduled = new RefreshPolicy(config.refreshInterval()).next(lastCheckedAt, window);
    scheduledToken = window;
    nextAt = scheduled.at();
  }

  /**
   * A fetch or install failed; returns the backoff chosen, counted from {@code now}. Once the source has answered,
   * a failure is of a refresh, and a transient one is spread over the installed token's slack ({@link
   * Backoff#refreshDelay}); before, the backoff's own ceiling holds (the first fetch, or one after a new source).
   */
  Duration onFailed(Instant now, FailureClass kind, Optional<Duration> retryAfter, Optional<Duration> tokenLeft) {
    failures++;
    scheduled = null;
    Backoff backoff = new Backoff(Backoff.DEFAULT_BASE, config.backoffCap(), random);
    Duration delay = answered ? backoff.refreshDelay(failures, kind, retryAfter, tokenLeft)
        : backoff.delay(failures, kind, retryAfter, tokenLeft);
    nextAt = now.plus(delay);
    return delay;
  }

  int failures() {
    return failures;
  }

  /** A fetch has ended: one asked for meanwhile is due now. */
  void ended(Instant now) {
    if (again) {
      again = false;
      nextAt = now;
    }
  }

  /**
   * A report answer confirmed {@code installedRevision}: when {@link ConfirmationPolicy} counts it as a check, the
   * next one moves; returns it.
   */
  Optional<RefreshPolicy.Next> onConfirmed(Instant now, String installedRevision,
      ConfirmationPolicy.Confirmation c, boolean underWay) {
    Optional<RefreshPolicy.Next> next = ConfirmationPolicy.postpone(new RefreshPolicy(config.refreshInterval()),
        new ConfirmationPolicy.Keeper(now, installedRevision, lastCheckedAt, scheduled, scheduledToken, failures > 0,
            underWay || again), c);
    next.ifPresent(n -> {
      scheduled = n;
      nextAt = n.at();
      confirmedAt = c.sentAt();
    });
    return next;
  }
}
