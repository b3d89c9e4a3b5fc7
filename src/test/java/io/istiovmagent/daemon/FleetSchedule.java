package io.istiovmagent.daemon;

import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The daemon's refresh decisions for one simulated agent of the fleet benchmark (bench/): RefreshPolicy after a
 * successful fetch, ConfirmationPolicy on a report answer that confirms the bundle. A test-scope bridge in this
 * package, so that both policies stay package-private; it keeps the part of BundleKeeper's state they read.
 */
public final class FleetSchedule {
  /** The refresh settings every agent of a fleet shares. */
  public static final class Settings {
    private final RefreshPolicy refresh;

    private Settings(RefreshPolicy refresh) {
      this.refresh = refresh;
    }

    public static Settings withDefaults() {
      return new Settings(RefreshPolicy.withDefaults());
    }

    public Duration refreshInterval() {
      return refresh.refreshInterval();
    }
  }

  private final RefreshPolicy refresh;
  private RefreshPolicy.Next scheduled;
  private Optional<RefreshPolicy.TokenWindow> token = Optional.empty();

  public FleetSchedule(Settings settings) {
    this.refresh = settings.refresh;
  }

  /**
   * A fetch succeeded (200 or 304) at {@code checkedAt} with a bundle holding {@code claims}; the refresh interval
   * counts from {@code from} ({@code checkedAt}, or the warm start's earlier moment). Returns the next fetch's time.
   */
  public Instant succeeded(Instant from, Instant checkedAt, TokenClaims claims) {
    token = RefreshPolicy.TokenWindow.of(claims, checkedAt);
    scheduled = refresh.next(from, token);
    return scheduled.at();
  }

  /** A fetch failed: the backoff is in charge until the next success. */
  public void failed() {
    scheduled = null;
  }

  /**
   * A report answer (from the bundle source's origin) confirmed {@code revision} as of {@code sentAt}: the
   * postponed next fetch, or empty when the confirmation changes nothing.
   */
  public Optional<Instant> confirmed(Instant now, String installedRevision, Instant lastCheckedAt, boolean failing,
      boolean fetchUnderWay, String revision, Instant sentAt) {
    Optional<RefreshPolicy.Next> next = ConfirmationPolicy.postpone(refresh,
        new ConfirmationPolicy.Keeper(now, installedRevision, lastCheckedAt, scheduled, token, failing,
            fetchUnderWay),
        new ConfirmationPolicy.Confirmation(revision, sentAt, true));
    next.ifPresent(n -> scheduled = n);
    return next.map(RefreshPolicy.Next::at);
  }
}
