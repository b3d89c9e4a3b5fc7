package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LoopWaitTest {
  private static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");
  private static final Duration TICK = Duration.ofSeconds(1);

  /** Offsets in ms from now; empty: none (no fetch scheduled, no sidecar to look after). */
  @ParameterizedTest(name = "fetch {0}, watchdog {1}, sidecar {2} -> {3} ms")
  @CsvSource({
      // nothing sooner than a tick: a tick
      ",      60000, ,      1000",
      // the next fetch in 300 ms; one overdue waits not at all
      "300,   60000, ,      300",
      "-5000, 60000, ,      0",
      // the watchdog's ping is due in 150 ms; overdue: at once
      ",      150,   ,      150",
      ",      -20,   ,      0",
      // the sidecar's supervisor is due in 40 ms (catching up with an exit); due now or past: at once
      ",      60000, 40,    40",
      ",      60000, 0,     0",
      ",      60000, -300,  0",
      // due only after a tick: the tick decides
      ",      60000, 5000,  1000",
      // the soonest wins
      "700,   400,   250,   250",
      "100,   400,   250,   100",
  })
  void waitsForTheSoonestOfWhatThePartsAsk(String fetchMs, long watchdogMs, String sidecarMs, long expected) {
    assertEquals(expected, LoopWait.millis(NOW, TICK, at(fetchMs), watchdogMs, at(sidecarMs)));
  }

  @ParameterizedTest(name = "after a failed step, wait {0} ms, watchdog {1} -> {2} ms")
  @CsvSource({
      "0,    60000, 1000", // a bug is not run into in a hot loop: a tick at least
      "300,  60000, 1000",
      "0,    200,   200",  // but the watchdog is still pinged in time
      "0,    -10,   0",
      "1000, 60000, 1000",
  })
  void afterAFailedStepWaitsATickUnlessTheWatchdogIsDue(long wait, long watchdogMs, long expected) {
    assertEquals(expected, LoopWait.afterAFailedStep(wait, TICK, watchdogMs));
  }

  private static Instant at(String offsetMs) {
    return offsetMs == null ? null : NOW.plusMillis(Long.parseLong(offsetMs.strip()));
  }
}
