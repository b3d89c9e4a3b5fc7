package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The arithmetic and bookkeeping behind P5's figures (bench/p5-fleet). */
class FleetStatsTest {
  private static final long[] HUNDRED = new long[100];

  static {
    for (int i = 0; i < 100; i++) {
      HUNDRED[i] = 100 - i; // 1..100, unsorted on purpose
    }
  }

  @ParameterizedTest(name = "p{0} of 1..100 is {1}")
  @CsvSource({"50, 50", "99, 99", "99.5, 100", "100, 100", "0.5, 1"})
  void percentileIsTheNearestRank(double p, long expected) {
    assertEquals(expected, FleetStats.percentile(HUNDRED, p));
  }

  @Test
  void percentileOfFewValuesAndOfNone() {
    assertEquals(9, FleetStats.percentile(new long[] {3, 9}, 99), "p99 of two values is the larger");
    assertTrue(Double.isNaN(FleetStats.percentile(new long[0], 99)));
    assertThrows(IllegalArgumentException.class, () -> FleetStats.percentile(HUNDRED, 0));
  }

  /** Per-second counts, range, window -> the peak rate and the second its window starts. */
  @ParameterizedTest(name = "[{index}] {0} in [{1},{2}) window {3}")
  @CsvSource(delimiter = ';', value = {
      "1 5 1 1 1; 0; 5; 1; 5.0; 1",
      "1 5 1 1 1; 0; 5; 2; 3.0; 0",
      "0 0 4 4 0 9; 0; 6; 2; 4.5; 4",
      "0 0 4 4 0 9; 0; 5; 2; 4.0; 2",
      "9 0 4 4 0 0; 1; 6; 2; 4.0; 2"})
  void peakIsTheHighestWindowMeanWithinTheRange(String counts, int from, int to, int window, double rate, int at) {
    int[] perSecond = java.util.Arrays.stream(counts.split(" ")).mapToInt(Integer::parseInt).toArray();
    FleetStats.Peak p = FleetStats.peak(perSecond, from, to, window);
    assertEquals(rate, p.rate(), 1e-9);
    assertEquals(at, p.at());
  }

  @Test
  void peakNeedsARangeAtLeastAsLongAsItsWindow() {
    assertThrows(IllegalArgumentException.class, () -> FleetStats.peak(new int[5], 0, 3, 4));
  }

  @Test
  void callsCountInTheSecondTheyStartedAndTheFleetJvmsAddUp(@TempDir Path dir) throws Exception {
    long s = 1_000_000_000L;
    FleetStats a = new FleetStats(0, 4);
    a.attempt(FleetStats.Kind.HEALTH, s + 900_000_000L);
    a.answered(s + 900_000_000L, 300_000_000L, 200); // ends in second 2, counts in second 1
    a.attempt(FleetStats.Kind.BUNDLE, 99 * s); // past the end: the last second
    a.failed(2 * s, "HEALTH ConnectException: Connection refused");
    a.recovered(3, 7);
    a.fetchLag(1500);
    FleetStats b = new FleetStats(0, 4);
    b.attempt(FleetStats.Kind.HEALTH, s);
    b.answered(s, 9_000_000L, 503);
    b.failed(2 * s, "HEALTH ConnectException: Connection refused");
    b.recovered(3, 5);
    a.writeTo(dir.resolve("a"));
    b.writeTo(dir.resolve("b"));
    FleetStats sum = new FleetStats(0, 4);
    sum.addFrom(dir.resolve("a"));
    sum.addFrom(dir.resolve("b"));
    assertArrayEquals(new int[] {0, 2, 0, 1}, sum.attemptsPerSecond());
    assertArrayEquals(new int[] {0, 0, 0, 1}, sum.attemptsPerSecond(FleetStats.Kind.BUNDLE));
    assertArrayEquals(new int[] {0, 1, 0, 0}, sum.okPerSecond());
    assertArrayEquals(new int[] {0, 1, 0, 0}, sum.serverErrorsPerSecond());
    assertArrayEquals(new int[] {0, 0, 2, 0}, sum.failedPerSecond());
    assertArrayEquals(new int[] {0, 0, 0, 12}, sum.recoveredPerSecond());
    assertArrayEquals(new long[] {300_000, 9_000}, sum.durations(1, 2));
    assertEquals(List.of("2 x HEALTH ConnectException: Connection refused"), sum.failureReasons());
    assertEquals(1500, sum.maxFetchLagMillis());
    assertEquals(1, sum.lateFetches());
  }

  @Test
  void theEndpointLogIsReadAsItGrowsAndAcrossARestart(@TempDir Path dir) throws Exception {
    assertEquals(new EndpointLog.Request(200, 840, 3100, false),
        EndpointLog.parse("<7>POST /v1/health -> 200 (0.84 ms; 3.10 ms with queue and TLS)"));
    assertEquals(new EndpointLog.Request(304, 9000, 9500, true),
        EndpointLog.parse("<7>GET /v1/bundle/ns/g -> 304 (9.00 ms; 9.50 ms with queue and TLS)"));
    assertNull(EndpointLog.parse("<7>POST /v1/health: the client went away (Broken pipe)"));
    Path one = dir.resolve("endpoint-1.log");
    Path two = dir.resolve("endpoint-2.log");
    EndpointLog log = new EndpointLog(4);
    Files.writeString(one, "<5>onboarding endpoint listening\n<7>GET /v1/bundle/a/b -> 200 (1.00 ms; 2.00 ms with ");
    log.read(one, 0);
    Files.writeString(one, "<5>onboarding endpoint listening\n<7>GET /v1/bundle/a/b -> 200 (1.00 ms; 2.00 ms with "
        + "queue and TLS)\n<7>POST /v1/health -> 503 (0.10 ms; 0.20 ms with queue and TLS)\n");
    Files.writeString(two, "<7>POST /v1/health -> 200 (5.00 ms; 6.00 ms with queue and TLS)\n");
    log.read(two, 2); // the rest of endpoint-1.log first, then endpoint-2.log from its start
    assertArrayEquals(new int[] {0, 0, 3, 0}, log.answered());
    assertArrayEquals(new int[] {0, 0, 1, 0}, log.shed());
    assertArrayEquals(new long[] {1000, 100, 5000}, log.micros(0, 4, false));
    assertArrayEquals(new long[] {2000, 200, 6000}, log.micros(2, 3, true));
    assertArrayEquals(new long[] {1000}, log.micros(0, 4, false, true), "the bundle fetches");
    assertArrayEquals(new long[] {100, 5000}, log.micros(0, 4, false, false), "the others");
  }
}
