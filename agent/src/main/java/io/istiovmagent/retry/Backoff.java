package io.istiovmagent.retry;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.random.RandomGenerator;

/** How long to wait after consecutive failed fetches: exponential with full jitter, slow for failures people fix. */
public final class Backoff {
  public static final Duration DEFAULT_BASE = Duration.ofSeconds(1);
  public static final Duration DEFAULT_CAP = Duration.ofMinutes(5);
  /** No delay is ever longer, whatever a server's Retry-After says: a hostile server cannot park the agent. */
  public static final Duration HARD_MAX = Duration.ofHours(1);
  /** The shortest wait the token-aware delay comes down to as the installed token nears its expiry. */
  public static final Duration URGENT_FLOOR = Duration.ofSeconds(1);

  private final long baseMillis;
  private final long capMillis;
  private final RandomGenerator random;

  /**
   * @param base the ceiling of the first delay; at least 1 ms
   * @param cap the largest ceiling, at least base and at most {@link #HARD_MAX}
   * @param random the jitter source; tests pass a seeded or scripted one
   */
  public Backoff(Duration base, Duration cap, RandomGenerator random) {
    Objects.requireNonNull(base, "base == null");
    Objects.requireNonNull(cap, "cap == null");
    this.random = Objects.requireNonNull(random, "random == null");
    if (base.toMillis() < 1) {
      throw new IllegalArgumentException("base must be at least 1ms, got " + base);
    }
    if (cap.compareTo(base) < 0 || cap.compareTo(HARD_MAX) > 0) {
      throw new IllegalArgumentException("cap must be between base (" + base + ") and " + HARD_MAX + ", got " + cap);
    }
    this.baseMillis = base.toMillis();
    this.capMillis = cap.toMillis();
  }

  public static Backoff withDefaults(RandomGenerator random) {
    return new Backoff(DEFAULT_BASE, DEFAULT_CAP, random);
  }

  /**
   * The delay before the next attempt.
   *
   * <p>TRANSIENT: uniform in [0, min(cap, base * 2^(failures-1))]. Every other class: uniform in [cap/2, cap],
   * whatever the count, since retrying a rejected credential or a refused bundle sooner changes nothing. A
   * Retry-After raises the delay to at least its value; the result never exceeds {@link #HARD_MAX}.
   *
   * @param failures consecutive failures so far, including this one: 1 after the first
   * @param retryAfter the server's Retry-After, when it sent one
   */
  public Duration delay(int failures, FailureClass failure, Optional<Duration> retryAfter) {
    Objects.requireNonNull(failure, "failure == null");
    Objects.requireNonNull(retryAfter, "retryAfter == null");
    if (failures < 1) {
      throw new IllegalArgumentException("failures counts this one too, so it is at least 1; got " + failures);
    }
    long millis = failure.retriedSoon()
        ? random.nextLong(0, ceilingMillis(failures) + 1)
        : random.nextLong(capMillis / 2, capMillis + 1);
    // The drawn delay is at most cap, which the constructor holds to HARD_MAX; only Retry-After can go beyond.
    if (retryAfter.isPresent() && !retryAfter.get().isNegative()) {
      // Compared as Durations: a Retry-After of years would overflow toMillis().
      Duration asked = retryAfter.get();
      millis = asked.compareTo(HARD_MAX) >= 0 ? HARD_MAX.toMillis() : Math.max(millis, asked.toMillis());
    }
    return Duration.ofMillis(millis);
  }

  /**
   * As {@link #delay(int, FailureClass, Optional)}, but a TRANSIENT failure waits no longer than half the time the
   * installed token has left (nor less than {@link #URGENT_FLOOR}), unless the server's Retry-After asks for longer.
   *
   * <p>Why: the refresh margin is the token's half-life, only 5 minutes for a 10-minute token, while a plain backoff
   * may reach its 5-minute cap within a minute-long outage and sleep past the expiry. Halving the time left means a
   * source that is back before the token expires is always asked again in time. The slow classes are not brought
   * forward: asking again sooner does not change their answer.
   *
   * @param tokenLeft how long the installed token stays valid from now; empty or not positive when there is none
   */
  public Duration delay(int failures, FailureClass failure, Optional<Duration> retryAfter,
      Optional<Duration> tokenLeft) {
    Objects.requireNonNull(tokenLeft, "tokenLeft == null");
    Duration d = delay(failures, failure, retryAfter);
    if (!failure.retriedSoon() || !valid(tokenLeft)) {
      return d;
    }
    Duration urgent = tokenLeft.get().dividedBy(2);
    if (urgent.compareTo(URGENT_FLOOR) < 0) {
      urgent = URGENT_FLOOR;
    }
    Duration asked = retryAfter.filter(r -> !r.isNegative()).orElse(Duration.ZERO);
    Duration bound = asked.compareTo(urgent) > 0 ? asked : urgent;
    return d.compareTo(bound) > 0 ? bound : d;
  }

  /**
   * The delay after a failed <em>refresh</em>: the source answered before, and the installed token is still valid
   * for {@code tokenLeft}. A TRANSIENT failure is then drawn from [0, cap] from the first failure on, not from the
   * exponential ceiling, and still no longer than half the token's time left (nor less than {@link #URGENT_FLOOR}); a
   * Retry-After raises it as always. The other classes, and a token that has expired, are as {@link #delay(int,
   * FailureClass, Optional, Optional)}.
   *
   * <p>Why: an outage of the source defers the refreshes of every VM whose token reaches its half-life meanwhile (a
   * sixth of a fleet of 1-hour tokens in any 5 minutes), and each fetch that succeeds mints a token at the API
   * server. With the exponential ceiling, the VMs that met the outage last retry within seconds and the fleet comes
   * back in a burst; drawn from the whole cap, it comes back spread over the cap. A refresh has the time: half the
   * token's lifetime is left at its half-life.
   */
  public Duration refreshDelay(int failures, FailureClass failure, Optional<Duration> retryAfter,
      Optional<Duration> tokenLeft) {
    Objects.requireNonNull(tokenLeft, "tokenLeft == null");
    if (failures < 1) {
      throw new IllegalArgumentException("failures counts this one too, so it is at least 1; got " + failures);
    }
    // As if it had failed often enough for the ceiling to be the cap (ceilingMillis takes any count).
    return delay(valid(tokenLeft) ? Integer.MAX_VALUE : failures, failure, retryAfter, tokenLeft);
  }

  /** Whether an installed token is still valid for {@code tokenLeft}: present and positive. */
  private static boolean valid(Optional<Duration> tokenLeft) {
    return tokenLeft.isPresent() && !tokenLeft.get().isNegative() && !tokenLeft.get().isZero();
  }

  /** min(cap, base * 2^(failures-1)), computed without overflow for any count. */
  private long ceilingMillis(int failures) {
    int shift = failures - 1;
    // base << shift stays positive exactly while shift is below base's leading zero bits.
    if (shift >= Long.numberOfLeadingZeros(baseMillis)) {
      return capMillis;
    }
    return Math.min(capMillis, baseMillis << shift);
  }
}
