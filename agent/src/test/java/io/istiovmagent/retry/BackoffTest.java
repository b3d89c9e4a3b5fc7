package io.istiovmagent.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.util.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class BackoffTest {
  /**
   * Each row gives the range the delay is drawn from, checked with a generator pinned at its lowest draw and one
   * pinned at its highest: full jitter means the lowest is zero.
   */
  @ParameterizedTest(name = "{0} failure #{1}, Retry-After {2}: [{3}, {4}]")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // class              | failures   | Retry-After | lowest  | highest
      "TRANSIENT            | 1          | -           | 0s      | 1s",
      "TRANSIENT            | 2          | -           | 0s      | 2s",
      "TRANSIENT            | 3          | -           | 0s      | 4s",
      "TRANSIENT            | 9          | -           | 0s      | 4m16s",
      "TRANSIENT            | 10         | -           | 0s      | 5m",
      "TRANSIENT            | 64         | -           | 0s      | 5m",
      "TRANSIENT            | 10000      | -           | 0s      | 5m",
      "TRANSIENT            | 2147483647 | -           | 0s      | 5m",
      "TRANSIENT            | 1          | 30s         | 30s     | 30s",
      "TRANSIENT            | 9          | 30s         | 30s     | 4m16s",
      "TRANSIENT            | 1          | 0s          | 0s      | 1s",
      "TRANSIENT            | 1          | 59m         | 59m     | 59m",
      "TRANSIENT            | 1          | 2h          | 1h      | 1h",
      "TRANSIENT            | 1          | 100000000d  | 1h      | 1h",
      "CREDENTIAL_REJECTED  | 1          | -           | 2m30s   | 5m",
      "CREDENTIAL_REJECTED  | 2          | -           | 2m30s   | 5m",
      "CREDENTIAL_REJECTED  | 10000      | -           | 2m30s   | 5m",
      "CREDENTIAL_REJECTED  | 1          | 10m         | 10m     | 10m",
      "CREDENTIAL_REJECTED  | 1          | 4m          | 4m      | 5m",
      "NOT_FOUND            | 1          | -           | 2m30s   | 5m",
      "NOT_FOUND            | 10000      | -           | 2m30s   | 5m",
      "MISCONFIGURED        | 1          | -           | 2m30s   | 5m",
      "BAD_BUNDLE           | 1          | -           | 2m30s   | 5m",
      "BAD_BUNDLE           | 3          | 1d          | 1h      | 1h",
  })
  void drawsTheDelayFromTheRangeTheRulesGive(FailureClass failure, int failures, String retryAfter, String lowest,
      String highest) {
    Optional<Duration> ra = Optional.ofNullable(retryAfter).map(Durations::parse);
    assertEquals(Durations.parse(lowest), Backoff.withDefaults(PINNED_LOW).delay(failures, failure, ra), "lowest");
    assertEquals(Durations.parse(highest), Backoff.withDefaults(PINNED_HIGH).delay(failures, failure, ra), "highest");
  }

  @ParameterizedTest(name = "{0} failure #{1}, Retry-After {2}, token valid for {3}: [{4}, {5}]")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // class             | failures | Retry-After | token left | lowest | highest
      "TRANSIENT           | 10       | -           | 2m         | 0s     | 1m",
      "TRANSIENT           | 10       | -           | 20m        | 0s     | 5m",
      "TRANSIENT           | 1        | -           | 2m         | 0s     | 1s",
      "TRANSIENT           | 10       | -           | 1s         | 0s     | 1s",
      "TRANSIENT           | 10       | -           | 0s         | 0s     | 5m",
      "TRANSIENT           | 10       | -           | -          | 0s     | 5m",
      "TRANSIENT           | 10       | 3m          | 2m         | 3m     | 3m",
      "TRANSIENT           | 10       | 30s         | 2m         | 30s    | 1m",
      "CREDENTIAL_REJECTED | 1        | -           | 2m         | 2m30s  | 5m",
      "BAD_BUNDLE          | 1        | -           | 1m         | 2m30s  | 5m",
  })
  void bringsATransientRetryForwardToHalfTheTokensTimeLeft(FailureClass failure, int n, String retryAfter,
      String tokenLeft, String lowest, String highest) {
    Optional<Duration> ra = Optional.ofNullable(retryAfter).map(Durations::parse);
    Optional<Duration> left = Optional.ofNullable(tokenLeft).map(Durations::parse);
    assertEquals(Durations.parse(lowest), Backoff.withDefaults(PINNED_LOW).delay(n, failure, ra, left), "lowest");
    assertEquals(Durations.parse(highest), Backoff.withDefaults(PINNED_HIGH).delay(n, failure, ra, left), "highest");
  }

  /** A failed refresh: a transient failure is drawn from the whole cap at once, within half the token's time left. */
  @ParameterizedTest(name = "refresh: {0} failure #{1}, Retry-After {2}, token valid for {3}: [{4}, {5}]")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // class             | failures | Retry-After | token left | lowest | highest
      "TRANSIENT           | 1        | -           | 30m        | 0s     | 5m",
      "TRANSIENT           | 10       | -           | 30m        | 0s     | 5m",
      "TRANSIENT           | 1        | -           | 6m         | 0s     | 3m",
      "TRANSIENT           | 1        | -           | 1s         | 0s     | 1s",
      "TRANSIENT           | 1        | -           | 1ms        | 0s     | 1s",
      "TRANSIENT           | 1        | 20m         | 30m        | 20m    | 20m",
      "TRANSIENT           | 1        | 1m          | 30m        | 1m     | 5m",
      "TRANSIENT           | 1        | 2h          | 30m        | 1h     | 1h",
      "TRANSIENT           | 3        | -           | 0s         | 0s     | 4s",
      "TRANSIENT           | 3        | -           | -10m       | 0s     | 4s",
      "TRANSIENT           | 3        | -           | -          | 0s     | 4s",
      "CREDENTIAL_REJECTED | 1        | -           | 30m        | 2m30s  | 5m",
      "BAD_BUNDLE          | 1        | -           | 30m        | 2m30s  | 5m",
  })
  void aFailedRefreshIsDrawnFromTheWholeCapAtOnce(FailureClass failure, int n, String retryAfter,
      String tokenLeft, String lowest, String highest) {
    Optional<Duration> ra = Optional.ofNullable(retryAfter).map(Durations::parse);
    Optional<Duration> left = Optional.ofNullable(tokenLeft).map(BackoffTest::signed);
    assertEquals(Durations.parse(lowest), Backoff.withDefaults(PINNED_LOW).refreshDelay(n, failure, ra, left),
        "lowest");
    assertEquals(Durations.parse(highest), Backoff.withDefaults(PINNED_HIGH).refreshDelay(n, failure, ra, left),
        "highest");
  }

  @Test
  void aFailedRefreshKeepsToAConfiguredCap() {
    Backoff b = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30), PINNED_HIGH);
    assertEquals(Duration.ofSeconds(30), b.refreshDelay(1, FailureClass.TRANSIENT, Optional.empty(),
        Optional.of(Duration.ofMinutes(30))));
    assertThrows(IllegalArgumentException.class, () -> b.refreshDelay(0, FailureClass.TRANSIENT, Optional.empty(),
        Optional.of(Duration.ofMinutes(30))));
  }

  private static Duration signed(String s) {
    return s.startsWith("-") ? Durations.parse(s.substring(1)).negated() : Durations.parse(s);
  }

  @Test
  void aTokenThatHasAlreadyExpiredDoesNotBringTheRetryForward() {
    Duration d = Backoff.withDefaults(PINNED_HIGH).delay(10, FailureClass.TRANSIENT, Optional.empty(),
        Optional.of(Duration.ofMinutes(-5)));
    assertEquals(Backoff.DEFAULT_CAP, d);
  }

  @ParameterizedTest(name = "base {0}, cap {1}, {2} failure #{3}: up to {4}")
  @CsvSource(delimiter = '|', value = {
      "2s   | 1m  | TRANSIENT           | 1  | 2s",
      "2s   | 1m  | TRANSIENT           | 5  | 32s",
      "2s   | 1m  | TRANSIENT           | 6  | 1m",
      "2s   | 1m  | CREDENTIAL_REJECTED | 1  | 1m",
      "1ms  | 1h  | TRANSIENT           | 22 | 34m57s152ms",
      "1ms  | 1h  | TRANSIENT           | 23 | 1h",
      "1h   | 1h  | TRANSIENT           | 1  | 1h",
  })
  void baseAndCapAreConfigurable(String base, String cap, FailureClass failure, int failures, String highest) {
    Backoff b = new Backoff(Durations.parse(base), Durations.parse(cap), PINNED_HIGH);
    assertEquals(Durations.parse(highest), b.delay(failures, failure, Optional.empty()));
  }

  @Test
  void slowClassesDrawFromTheUpperHalfOfACustomCap() {
    Backoff b = new Backoff(Duration.ofSeconds(2), Duration.ofMinutes(1), PINNED_LOW);
    assertEquals(Duration.ofSeconds(30), b.delay(1, FailureClass.NOT_FOUND, Optional.empty()));
  }

  @Test
  void neverThrowsNorGoesNegativeNorPastTheCapForAnyFailureCount() {
    Backoff b = Backoff.withDefaults(new SplittableRandom(7));
    for (int n = 1; n <= 10_000; n++) {
      for (FailureClass f : FailureClass.values()) {
        Duration d = b.delay(n, f, Optional.empty());
        assertTrue(!d.isNegative() && d.compareTo(Backoff.DEFAULT_CAP) <= 0, f + " #" + n + ": " + d);
      }
    }
    Duration d = b.delay(Integer.MAX_VALUE, FailureClass.TRANSIENT, Optional.of(Duration.ofSeconds(Long.MAX_VALUE)));
    assertEquals(Backoff.HARD_MAX, d);
  }

  @Test
  void jitterIsFullSoAFleetSpreadsOverTheWholeRange() {
    Backoff b = Backoff.withDefaults(new SplittableRandom(42));
    long under30s = 0;
    long over270s = 0;
    for (int i = 0; i < 1000; i++) {
      Duration d = b.delay(20, FailureClass.TRANSIENT, Optional.empty());
      under30s += d.compareTo(Duration.ofSeconds(30)) < 0 ? 1 : 0;
      over270s += d.compareTo(Duration.ofSeconds(270)) > 0 ? 1 : 0;
    }
    // Uniform over [0, 300s]: about 100 in each tenth. Equal jitter (cap/2 + random) would put none under 30s.
    assertTrue(under30s > 50 && over270s > 50, under30s + " under 30s, " + over270s + " over 270s");
  }

  @Test
  void aSeededGeneratorGivesTheSameDelays() {
    assertEquals(delays(new SplittableRandom(99)), delays(new SplittableRandom(99)));
  }

  @Test
  void aNegativeRetryAfterIsIgnored() {
    Duration d = Backoff.withDefaults(PINNED_HIGH).delay(1, FailureClass.TRANSIENT, Optional.of(Duration.ofSeconds(-5)));
    assertEquals(Duration.ofSeconds(1), d);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
  void refusesAFailureCountBelowOne(int failures) {
    Backoff b = Backoff.withDefaults(PINNED_LOW);
    assertThrows(IllegalArgumentException.class, () -> b.delay(failures, FailureClass.TRANSIENT, Optional.empty()));
  }

  @ParameterizedTest(name = "base {0}, cap {1}")
  @CsvSource({"0s, 5m", "999us, 5m", "10s, 5s", "1s, 61m"})
  void refusesABaseOrCapOutsideTheirBounds(String base, String cap) {
    assertThrows(IllegalArgumentException.class,
        () -> new Backoff(duration(base), Durations.parse(cap), PINNED_LOW));
  }

  @ParameterizedTest
  @EnumSource(FailureClass.class)
  void onlyTransientFailuresAreRetriedSoon(FailureClass f) {
    Duration d = Backoff.withDefaults(PINNED_HIGH).delay(1, f, Optional.empty());
    assertEquals(f == FailureClass.TRANSIENT ? Duration.ofSeconds(1) : Duration.ofMinutes(5), d);
  }

  private static List<Duration> delays(RandomGenerator random) {
    Backoff b = Backoff.withDefaults(random);
    List<Duration> out = new ArrayList<>();
    for (int n = 1; n <= 20; n++) {
      out.add(b.delay(n, FailureClass.TRANSIENT, Optional.empty()));
    }
    return out;
  }

  private static Duration duration(String s) {
    return s.endsWith("us") ? Duration.ofNanos(1000 * Long.parseLong(s.substring(0, s.length() - 2)))
        : Durations.parse(s);
  }

  /** Always the lowest value of the range asked for. */
  private static final RandomGenerator PINNED_LOW = new RandomGenerator() {
    @Override
    public long nextLong() {
      throw new AssertionError("Backoff draws from an explicit range");
    }

    @Override
    public long nextLong(long origin, long bound) {
      return origin;
    }
  };

  /** Always the highest value of the range asked for (bound is exclusive). */
  private static final RandomGenerator PINNED_HIGH = new RandomGenerator() {
    @Override
    public long nextLong() {
      throw new AssertionError("Backoff draws from an explicit range");
    }

    @Override
    public long nextLong(long origin, long bound) {
      return bound - 1;
    }
  };
}
