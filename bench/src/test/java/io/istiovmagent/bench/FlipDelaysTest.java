package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** P7's flips paired with the entries' status writes: seen dead -> Healthy False, seen back -> True. */
class FlipDelaysTest {
  private static final long T = 1_796_000_000_000L;
  private static final String A = "bar/foo-aaaa";
  private static final String B = "bar/foo-bbbb";
  private static final long END = T + 600_000;

  private static FlipDelays.Write w(long at, String entry, String healthy) {
    return new FlipDelays.Write(T + at, entry, healthy);
  }

  private static FlipDelays.Flip flip(String entry, long dead, long back) {
    return new FlipDelays.Flip(entry, dead == FlipDelays.NONE ? dead : T + dead,
        back == FlipDelays.NONE ? back : T + back);
  }

  @Test
  void aFlipIsPairedWithTheFirstFalseAfterTheDeathAndTheFirstTrueAfterTheReturn() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, 1000, 33_000)), List.of(
        w(0, A, "True"), // the entry before the flip
        w(1080, A, "False"), // SidecarDown
        w(31_050, A, "False"), // EnvoyNotReady, the sidecar restarted but not ready yet
        w(33_120, A, "True"), // Serving
        w(40_000, A, "True")), END);
    assertEquals(80, p.get(0).toFalse());
    assertEquals(120, p.get(0).toTrue());
  }

  @Test
  void writesAreTakenInOrderOfArrivalAndOfTheirOwnEntryOnly() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, 1000, 33_000), flip(B, 2000, 34_000)), List.of(
        w(2300, A, "False"), w(1900, A, "False"), w(2100, B, "False"), w(34_500, B, "True"), w(33_010, A, "True")),
        END);
    assertEquals(List.of(900L, 10L), List.of(p.get(0).toFalse(), p.get(0).toTrue()),
        "the log's order is the order requests finished, not arrived");
    assertEquals(List.of(100L, 500L), List.of(p.get(1).toFalse(), p.get(1).toTrue()));
  }

  @Test
  void aWriteBeforeTheAgentSawTheDeathIsNotItsAnswer() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, 1000, 33_000)), List.of(w(999, A, "False"),
        w(1000, A, "False")), END);
    assertEquals(0, p.get(0).toFalse(), "the same millisecond counts");
  }

  @Test
  void aFalseOnlyAfterTheSidecarCameBackIsMissingAndSoIsATrueOnlyAfterTheEnd() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, 1000, 33_000)), List.of(w(0, A, "True"),
        w(33_500, A, "False"), w(600_001, A, "True")), END);
    assertEquals(FlipDelays.NONE, p.get(0).toFalse());
    assertEquals(FlipDelays.NONE, p.get(0).toTrue(), "the outage's writes are not the flip's");
    FlipDelays.Delays f = FlipDelays.toFalse(p);
    assertEquals(List.of(0, 1), List.of(f.count(), f.missing()));
    assertTrue(Double.isNaN(f.percentile(99)));
  }

  @Test
  void aFlipNotSeenIsNeitherCountedNorMissingAndOneNotBackYetHasNoTrue() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, FlipDelays.NONE, FlipDelays.NONE),
        flip(B, 1000, FlipDelays.NONE)), List.of(w(500, A, "False"), w(1200, B, "False"), w(2000, B, "True")), END);
    assertEquals(List.of(0, 0), List.of(FlipDelays.toFalse(p.subList(0, 1)).count(),
        FlipDelays.toFalse(p.subList(0, 1)).missing()), "an agent without a bundle had no sidecar to lose");
    assertEquals(200, p.get(1).toFalse(), "False until the end when it was not seen back");
    assertEquals(List.of(0, 0), List.of(FlipDelays.toTrue(p).count(), FlipDelays.toTrue(p).missing()));
  }

  @Test
  void aVmNotInTrafficAtTheDeathHadNothingToMakeFalseAndIsLeftOutOfThatFigureOnly() {
    List<FlipDelays.Paired> p = FlipDelays.pair(List.of(flip(A, 1000, 33_000), flip(B, 1000, 33_000)), List.of(
        w(0, A, "False"), // registered (Enrolled), never reported yet
        w(9000, A, "False"), w(33_100, A, "True"),
        w(0, B, "True"), w(500, B, "False"), // out of traffic for another reason just before
        w(1400, B, "False"), w(33_050, B, "True")), END);
    assertEquals(List.of(false, false), List.of(p.get(0).serving(), p.get(1).serving()));
    assertEquals(8000, p.get(0).toFalse(), "paired all the same, for P7.flips.csv");
    FlipDelays.Delays f = FlipDelays.toFalse(p);
    assertEquals(List.of(0, 0), List.of(f.count(), f.missing()));
    assertArrayEquals(new long[] {100, 50}, FlipDelays.toTrue(p).millis(), "back in traffic is measured for all");
  }

  @Test
  void percentilesAreNearestRankOverThePairedFlips() {
    List<FlipDelays.Flip> flips = new java.util.ArrayList<>();
    List<FlipDelays.Write> writes = new java.util.ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      String e = "bar/foo-" + i;
      flips.add(flip(e, 1000L * i, 1000L * i + 5000));
      writes.add(w(0, e, "True"));
      writes.add(w(1000L * i + 10L * i, e, "False")); // i-th flip: 10 i ms
      writes.add(w(1000L * i + 5003, e, "True"));
    }
    flips.add(flip("bar/foo-none", 200_000, 201_000));
    writes.add(w(0, "bar/foo-none", "True"));
    FlipDelays.Delays f = FlipDelays.toFalse(FlipDelays.pair(flips, writes, END));
    assertEquals(List.of(100, 1), List.of(f.count(), f.missing()));
    assertEquals(List.of(500.0, 990.0, 1000.0), List.of(f.percentile(50), f.percentile(99), f.percentile(100)));
    FlipDelays.Delays t = FlipDelays.toTrue(FlipDelays.pair(flips, writes, END));
    assertEquals(3.0, t.percentile(99));
    assertEquals(1, t.missing());
  }

  @Test
  void linesAreReadAsBothEndsWriteThem() {
    FlipDelays.Flip f = new FlipDelays.Flip(A, T, FlipDelays.NONE);
    assertEquals(f, FlipDelays.Flip.parse(f.line()));
    assertThrows(IllegalArgumentException.class, () -> FlipDelays.Flip.parse(A + " " + T));
    assertEquals(new FlipDelays.Write(T, A, "False"), FlipDelays.Write.parse(T + " transition " + A
        + " False/SidecarDown False/Unhealthy status=UNHEALTHY sidecar=activating/auto-restart"));
    assertEquals(new FlipDelays.Write(T, A, "null"), FlipDelays.Write.parse(T + " unexplained " + A + " null/null"));
    assertNull(FlipDelays.Write.parse("garbage"));
    assertArrayEquals(new long[0], FlipDelays.toTrue(List.of()).millis());
  }
}
