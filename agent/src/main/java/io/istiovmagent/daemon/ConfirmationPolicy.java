package io.istiovmagent.daemon;

import io.istiovmagent.daemon.RefreshPolicy.Next;
import io.istiovmagent.daemon.RefreshPolicy.Reason;
import io.istiovmagent.daemon.RefreshPolicy.TokenWindow;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import okhttp3.HttpUrl;

/**
 * Whether a report answer that confirms the installed bundle ({@code "fetchBundleNow": false}: the revision the
 * report named is the group's current one) counts as an unchanged check of the bundle, and so postpones the
 * interval refresh. Pure.
 *
 * <p>It postpones only the refreshInterval rule: to confirmation + refreshInterval, never past the token's
 * half-life (the token is renewed only by a fetch, so HALF_LIFE and STALE_TOKEN are never moved). It changes
 * nothing while fetches fail (the backoff is in charge), while a fetch is under way or due, for another revision
 * than the one installed, for a confirmation older than the last check, or when the report endpoint is not the
 * bundle source's origin (its word says nothing about another server's bundle).
 *
 * <p>The fleet benchmark's simulated agents take the same decision through a test-scope bridge in this package
 * (FleetSchedule), so this stays package-private.
 */
final class ConfirmationPolicy {
  private ConfirmationPolicy() {}

  /** The keeper at the moment a confirmation is taken. */
  public record Keeper(Instant now, String installedRevision, Instant lastCheckedAt, Next scheduled,
      Optional<TokenWindow> token, boolean failing, boolean fetchUnderWay) {
    public Keeper {
      Objects.requireNonNull(now, "now == null");
      Objects.requireNonNull(token, "token == null");
    }
  }

  /**
   * A report answer with {@code fetchBundleNow: false}: the revision its report named, when the report was sent
   * (the endpoint compared it with its bundle at some moment after that), and whether the report URL has the same
   * origin (scheme, host, port) as the bundle source.
   */
  public record Confirmation(String revision, Instant sentAt, boolean sameOrigin) {
    public Confirmation {
      Objects.requireNonNull(sentAt, "sentAt == null");
    }
  }

  /** The next fetch after {@code c}; empty when it changes nothing. */
  public static Optional<Next> postpone(RefreshPolicy policy, Keeper k, Confirmation c) {
    if (!c.sameOrigin() || c.revision() == null || !c.revision().equals(k.installedRevision())) {
      return Optional.empty();
    }
    if (k.failing() || k.fetchUnderWay() || k.scheduled() == null || k.lastCheckedAt() == null
        || !k.now().isBefore(k.scheduled().at()) || k.scheduled().reason() != Reason.INTERVAL
        || !c.sentAt().isAfter(k.lastCheckedAt())) {
      return Optional.empty();
    }
    Next candidate = new Next(c.sentAt().plus(policy.refreshInterval()), Reason.INTERVAL);
    if (k.token().isPresent()) {
      Instant halfLife = k.token().get().halfLife();
      if (candidate.at().isAfter(halfLife)) {
        candidate = new Next(halfLife, Reason.HALF_LIFE);
      }
    }
    return candidate.at().isAfter(k.scheduled().at()) ? Optional.of(candidate) : Optional.empty();
  }

  /**
   * Whether {@code reportUrl} and the bundle source {@code source} (as configured) share scheme, host and port; a
   * source that is not an https:// URL (a directory, a file) never does.
   */
  static boolean sameOrigin(HttpUrl reportUrl, String source) {
    if (reportUrl == null || source == null || !source.strip().regionMatches(true, 0, "https://", 0, 8)) {
      return false;
    }
    HttpUrl s = HttpUrl.parse(source.strip());
    return s != null && s.scheme().equals(reportUrl.scheme()) && s.host().equals(reportUrl.host())
        && s.port() == reportUrl.port();
  }
}
