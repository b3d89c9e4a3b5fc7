package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The daemon's own {@link FetchSchedule} for one simulated agent of the fleet benchmark (bench/): when to fetch next
 * and with which ETag, after a check, a failure, a report answer or a hint. A test-scope bridge in this package, so
 * that the schedule and its policies stay package-private; it adds nothing to their decisions.
 */
public final class FleetSchedule {
  /** The refresh settings every agent of a fleet shares: the bundle section of config.yaml. */
  public static final class Settings {
    private final AgentConfig.Bundle bundle;

    private Settings(AgentConfig.Bundle bundle) {
      this.bundle = bundle;
    }

    public static Settings withDefaults() {
      return new Settings(AgentConfig.defaults().bundle());
    }

    public Duration refreshInterval() {
      return bundle.refreshInterval();
    }

    public Duration backoffCap() {
      return bundle.backoffCap();
    }
  }

  private final FetchSchedule schedule;

  /** Due at once, as after a first boot. */
  public FleetSchedule(Settings settings, RandomGenerator random, Instant now) {
    schedule = new FetchSchedule(random, now);
    schedule.reset(settings.bundle, now);
  }

  public Instant nextAt() {
    return schedule.nextAt();
  }

  public Optional<String> etag() {
    return schedule.etag();
  }

  public Instant lastCheckedAt() {
    return schedule.lastCheckedAt();
  }

  public Instant confirmedAt() {
    return schedule.confirmedAt();
  }

  /** The reporter's hint: at once, or as soon as the fetch {@code underWay} has ended. */
  public void fetchNow(Instant now, boolean underWay) {
    schedule.fetchNow(now, underWay);
  }

  /**
   * The source answered at {@code checkedAt} with a new bundle; the next check counts from {@code from}:
   * {@code checkedAt}, or for a warm start an earlier moment (the schedule is the daemon's; only its input is shifted).
   */
  public void fetched(Instant from, Instant checkedAt, Optional<String> etag, TokenClaims token) {
    schedule.checked(from);
    schedule.onFetched(etag, token);
    schedule.checked(checkedAt);
  }

  /** As {@link #fetched}, for a 304: the installed bundle is still current, the ETag stays. */
  public void notModified(Instant from, Instant checkedAt, TokenClaims token) {
    schedule.checked(from);
    schedule.onNotModified(token);
    schedule.checked(checkedAt);
  }

  /** A fetch failed at {@code now}; returns the backoff chosen. */
  public Duration failed(Instant now, FailureClass kind, Optional<Duration> retryAfter,
      Optional<Duration> tokenLeft) {
    return schedule.onFailed(now, kind, retryAfter, tokenLeft);
  }

  public int failures() {
    return schedule.failures();
  }

  /** A fetch has ended: one asked for meanwhile is due now. */
  public void ended(Instant now) {
    schedule.ended(now);
  }

  /**
   * A report answer from the bundle source's origin confirmed {@code revision} as of {@code sentAt}, with
   * {@code installedRevision} in force: returns the postponed next fetch, or empty when that changes nothing.
   */
  public Optional<Instant> confirmed(Instant now, String installedRevision, boolean underWay, String revision,
      Instant sentAt) {
    return schedule.onConfirmed(now, installedRevision, new ConfirmationPolicy.Confirmation(revision, sentAt, true),
        underWay).map(RefreshPolicy.Next::at);
  }
}
