package io.istiovmagent.daemon;

import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** When to fetch the bundle again after a successful fetch: a pure function of that fetch and the token it held. */
final class RefreshPolicy {
  public static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(10);
  /** The nearest a refresh is ever scheduled after a success; also the smallest refreshInterval the config accepts. */
  public static final Duration MIN_DELAY = Duration.ofSeconds(10);
  /**
   * The soonest a source that keeps handing out an already-due token is asked again (or refreshInterval, if
   * shorter): the retries are spaced by a quarter of the token's time left, between this and refreshInterval.
   */
  public static final Duration STALE_RETRY = Duration.ofMinutes(1);
  /**
   * The "at least 5 minutes before exp": the half-life guarantees it for tokens of 10 minutes or more fetched
   * at least {@link #MIN_DELAY} before their half-life.
   */
  public static final Duration EXPIRY_MARGIN = Duration.ofMinutes(5);

  private final Duration refreshInterval;

  public RefreshPolicy(Duration refreshInterval) {
    Objects.requireNonNull(refreshInterval, "refreshInterval == null");
    if (refreshInterval.compareTo(MIN_DELAY) < 0) {
      throw new IllegalArgumentException("refreshInterval must be at least " + MIN_DELAY.toSeconds() + "s, got "
          + refreshInterval);
    }
    this.refreshInterval = refreshInterval;
  }

  public static RefreshPolicy withDefaults() {
    return new RefreshPolicy(DEFAULT_INTERVAL);
  }

  public Duration refreshInterval() {
    return refreshInterval;
  }

  /** The validity window of the installed token, in the issuer's clock. */
  public record TokenWindow(Instant issued, Instant expires) {
    public TokenWindow {
      Objects.requireNonNull(issued, "issued == null");
      Objects.requireNonNull(expires, "expires == null");
    }

    /**
     * Issued is iat, else nbf, else the time it was fetched (the best the agent knows). No token gives no window:
     * only refreshInterval then applies. A verified token always has an expiry (TokenClaims refuses one without).
     */
    public static Optional<TokenWindow> of(TokenClaims claims, Instant fetchedAt) {
      if (claims == null) {
        return Optional.empty();
      }
      Instant issued = claims.issuedAt() != null ? claims.issuedAt()
          : claims.notBefore() != null ? claims.notBefore() : fetchedAt;
      return Optional.of(new TokenWindow(issued, claims.expiresAt()));
    }

    public Duration lifetime() {
      return Duration.between(issued, expires);
    }

    /** Half-way through the lifetime. */
    public Instant halfLife() {
      return issued.plus(lifetime().dividedBy(2));
    }
  }

  /** Which rule chose the time: for the log and the status line. */
  public enum Reason {
    /** refreshInterval came before the token's half-life (or there is no token). */
    INTERVAL,
    /** The token's half-life came first. */
    HALF_LIFE,
    /** The token was already at or past its half-life when fetched (or its exp is not after its iat). */
    STALE_TOKEN
  }

  /** The next fetch, and why then. */
  public record Next(Instant at, Reason reason) {}

  /**
   * The time of the next fetch after a success at {@code lastSuccess} that installed {@code token}.
   *
   * <p>next = min(lastSuccess + refreshInterval, token half-life), at least {@link #MIN_DELAY} after lastSuccess.
   * When the half-life is already at or before lastSuccess, or exp is not after issuance, the token counts as stale
   * and the result is lastSuccess + a quarter of the time the token has left (exp - lastSuccess), but at least
   * min(refreshInterval, {@link #STALE_RETRY}) and at most refreshInterval: never lastSuccess itself.
   */
  public Next next(Instant lastSuccess, Optional<TokenWindow> token) {
    Objects.requireNonNull(lastSuccess, "lastSuccess == null");
    Objects.requireNonNull(token, "token == null");
    Instant byInterval = lastSuccess.plus(refreshInterval);
    if (token.isEmpty()) {
      return new Next(byInterval, Reason.INTERVAL);
    }
    // "Refresh at half-life and at least 5 minutes before exp" needs only the half-life: for a lifetime of 10
    // minutes or more it is already at least 5 minutes before exp, and for a shorter token exp - 5 min falls before
    // the half-life (at issuance for a 5-minute token), where every fetch would be due again at once.
    Instant deadline = token.get().halfLife();
    boolean unusable = !token.get().expires().isAfter(token.get().issued());
    if (unusable || !deadline.isAfter(lastSuccess)) {
      // The source answered with a token already due. Retrying at lastSuccess would spin against a source that
      // always does so (a static file: directory, a caching proxy, an endpoint serving istioctl's output as it is);
      // the backoff is for failures and does not apply. A quarter of the time left: the retries come closer as exp
      // nears (a 1-hour token fetched at its half-life: 7.5 min, then 5.6, 4.2... down to once a minute), ~11
      // fetches over the last half of a 1-hour token instead of 30, and the token is picked up with three quarters of
      // its time left at worst. When it finally expires, verification refuses it and the failure backoff takes over.
      Duration floor = refreshInterval.compareTo(STALE_RETRY) < 0 ? refreshInterval : STALE_RETRY;
      Duration left = Duration.between(lastSuccess, token.get().expires());
      Duration retry = unusable || left.isNegative() ? floor : left.dividedBy(4);
      if (retry.compareTo(floor) < 0) {
        retry = floor;
      } else if (retry.compareTo(refreshInterval) > 0) {
        retry = refreshInterval;
      }
      return new Next(lastSuccess.plus(retry), Reason.STALE_TOKEN);
    }
    if (!byInterval.isAfter(deadline)) {
      return new Next(byInterval, Reason.INTERVAL);
    }
    // A half-life less than MIN_DELAY away waits for MIN_DELAY. For a sound token this happens once (the next fetch
    // brings a fresh token, or the same one, now stale); it repeats only with a source that keeps minting tokens
    // due within seconds (lifetimes under 20 s, or a clock skewed by nearly half a lifetime), and that must not
    // make the agent fetch faster than the shortest refreshInterval the configuration allows. The price: such a
    // fetch can land up to MIN_DELAY past the half-life, and so past exp - 5 min for a 10-minute token.
    Instant floor = lastSuccess.plus(MIN_DELAY);
    return new Next(deadline.isBefore(floor) ? floor : deadline, Reason.HALF_LIFE);
  }
}
