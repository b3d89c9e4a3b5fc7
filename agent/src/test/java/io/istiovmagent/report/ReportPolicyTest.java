package io.istiovmagent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.util.Durations;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ReportPolicyTest {
  /** A generator that draws the lowest, the highest or the middle value of whatever range it is asked for. */
  private record Draw(String which) implements RandomGenerator {
    @Override
    public long nextLong() {
      throw new AssertionError("the heartbeat draws from a bounded range");
    }

    @Override
    public long nextLong(long bound) {
      return switch (which) {
        case "lowest" -> 0;
        case "highest" -> bound - 1;
        case "middle" -> (bound - 1) / 2;
        default -> throw new IllegalArgumentException(which);
      };
    }
  }

  @ParameterizedTest(name = "interval {0}, {1} draw: {2}")
  @CsvSource({
      // interval | draw    | heartbeat
      "60s,         lowest,   60s",
      "60s,         middle,   66s",
      "60s,         highest,  72s",
      "5s,          lowest,   5s",
      "5s,          highest,  6s",
      "10m,         highest,  12m",
      "1ms,         highest,  1ms", // no room to spread: the interval itself
  })
  void heartbeatIsDrawnBetweenTheIntervalAndATwentyPercentLongerOne(String interval, String draw, String expected) {
    assertEquals(Durations.parse(expected), ReportPolicy.heartbeat(Durations.parse(interval), new Draw(draw)));
  }

  @ParameterizedTest(name = "interval {0}")
  @ValueSource(strings = {"5s", "7s", "60s", "90s", "1h"})
  void neverSoonerThanTheIntervalNorLaterThanTwentyPercentPastIt(String interval) {
    Duration i = Durations.parse(interval);
    SplittableRandom random = new SplittableRandom(11);
    long sum = 0;
    int n = 20_000;
    for (int k = 0; k < n; k++) {
      Duration h = ReportPolicy.heartbeat(i, random);
      assertTrue(h.compareTo(i) >= 0, "heartbeat " + h + " sooner than the interval " + i);
      assertTrue(h.compareTo(i.multipliedBy(6).dividedBy(5)) <= 0, "heartbeat " + h + " past 1.2 × " + i);
      sum += h.toMillis();
    }
    double mean = (double) sum / n / i.toMillis();
    assertEquals(1.1, mean, 0.005, "mean heartbeat as a multiple of the interval");
  }

  @Test
  void theLongestGapLeavesTheEndpointsStalenessRuleMarginForOneLostReport() {
    // The endpoint (VmRegistry) marks a VM stale after three heartbeat intervals of silence.
    Duration interval = Duration.ofSeconds(60);
    Duration longest = ReportPolicy.heartbeat(interval, new Draw("highest"));
    assertTrue(longest.multipliedBy(2).compareTo(interval.multipliedBy(3)) < 0,
        "two longest gaps (one lost report) must stay under three intervals: " + longest.multipliedBy(2));
  }
}
