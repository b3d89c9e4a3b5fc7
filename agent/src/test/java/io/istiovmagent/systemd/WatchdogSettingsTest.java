package io.istiovmagent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WatchdogSettingsTest {
  private static final long PID = 4242;

  @ParameterizedTest(name = "WATCHDOG_USEC={0} WATCHDOG_PID={1} -> ping every {2} ms")
  @CsvSource(nullValues = "unset", value = {
      // WATCHDOG_USEC,        WATCHDOG_PID, pingEvery ms (unset = no watchdog)
      "unset,                  unset,        unset",
      "'',                     unset,        unset",
      "0,                      unset,        unset",
      "abc,                    unset,        unset",
      "-5,                     unset,        unset",
      "+5,                     unset,        unset",
      "' 20000000',            unset,        unset",
      "99999999999999999999,   unset,        unset",
      "20000000,               unset,        10000",
      "20000000,               4242,         10000",
      "20000000,               4243,         unset",
      "20000000,               '',           unset",
      "20000000,               not-a-pid,    unset",
      "3000,                   4242,         1.5",
  })
  void readsWatchdogAsSdWatchdogEnabledDoes(String usec, String pid, String pingEveryMillis) {
    Map<String, String> env = new HashMap<>();
    if (usec != null) {
      env.put("WATCHDOG_USEC", usec);
    }
    if (pid != null) {
      env.put("WATCHDOG_PID", pid);
    }
    Optional<Duration> expected = Optional.ofNullable(pingEveryMillis)
        .map(ms -> Duration.ofNanos(Math.round(Double.parseDouble(ms) * 1_000_000)));
    assertEquals(expected, WatchdogSettings.fromEnvironment(env, PID).map(WatchdogSettings::pingEvery));
  }

  @ParameterizedTest
  @CsvSource({"20000000, PT20S", "1, PT0.000001S"})
  void keepsTheIntervalSystemdGave(String usec, Duration interval) {
    assertEquals(Optional.of(new WatchdogSettings(interval)),
        WatchdogSettings.fromEnvironment(Map.of("WATCHDOG_USEC", usec), PID));
  }
}
