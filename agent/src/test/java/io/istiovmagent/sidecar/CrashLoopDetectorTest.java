package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CrashLoopDetector} as a table. Each step is {@code SECONDS:STATE/PID/NRESTARTS}, STATE one of
 * run (active/running), auto (activating/auto-restart), pre (activating/start-pre), failed, dead; the expected
 * column holds the verdict after each step ('.' quiet, 'L' crash loop) and the starts in the window at the end.
 */
class CrashLoopDetectorTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  static Stream<Arguments> defaults() {
    return Stream.of(
        row("steady unit is never a crash loop",
            "0:run/100/0 60:run/100/0 300:run/100/0 600:run/100/0", "....", 0),
        // istio.service: Restart=always, RestartSec=10; each death shows as auto-restart with no main process.
        row("three restarts within five minutes is a crash loop",
            "0:run/100/0 10:auto/0/0 20:run/101/1 30:auto/0/1 40:run/102/2 50:auto/0/2 60:run/103/3",
            "......L", 3),
        row("two restarts within five minutes is not",
            "0:run/100/0 10:auto/0/0 20:run/101/1 30:auto/0/1 40:run/102/2", ".....", 2),
        row("three restarts spread over more than five minutes is not",
            "0:run/100/0 100:run/101/1 250:run/102/2 401:run/103/3", "....", 2),
        row("a start exactly five minutes ago still counts",
            "0:run/100/0 100:run/101/1 250:run/102/2 400:run/103/3", "...L", 3),
        row("new main PIDs count on a systemd without NRestarts",
            "0:run/100/0 20:run/200/0 40:run/300/0 60:run/400/0", "...L", 3),
        row("NRestarts counts when no main process is ever seen (dying in ExecStartPre)",
            "0:run/100/0 20:pre/0/1 40:pre/0/2 60:pre/0/3", "...L", 3),
        row("a restart seen first by its counter and then by its PID counts once",
            "0:run/100/0 10:pre/0/1 12:run/101/1 30:pre/0/2 32:run/102/2", ".....", 2),
        row("restarts between two looks all count",
            "0:run/100/0 60:run/105/5", ".L", 5),
        row("what happened before the first look is not counted",
            "0:run/100/7 10:run/100/7", "..", 0),
        row("a manual restart resetting NRestarts counts as one start, not a negative",
            "0:run/100/5 10:run/200/0", "..", 1),
        row("clears once running with one PID for a whole window",
            "0:run/100/0 20:run/101/1 40:run/102/2 60:run/103/3 359:run/103/3 360:run/103/3", "...LL.", 1),
        row("a unit that stopped crashing but stays failed is still reported",
            "0:run/100/0 20:run/101/1 40:run/102/2 60:run/103/3 70:failed/0/3 400:failed/0/3 900:failed/0/3",
            "...LLLL", 0),
        row("a new PID restarts the stability clock",
            "0:run/100/0 20:run/101/1 40:run/102/2 60:run/103/3 300:run/104/4 400:run/104/4 599:run/104/4 "
                + "600:run/104/4", "...LLLL.", 1),
        row("a clock stepped back keeps counting recent starts",
            "100:run/100/0 110:run/101/1 120:run/102/2 -5000:run/103/3", "...L", 3));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("defaults")
  void verdictWithDefaultThresholds(String name, String steps, String expected, long startsAtEnd) {
    assertVerdicts(new CrashLoopDetector(), steps, expected, startsAtEnd);
  }

  static Stream<Arguments> custom() {
    return Stream.of(
        row("three starts are not enough when five are the threshold",
            "0:run/100/0 10:run/101/1 20:run/102/2 30:run/103/3", "....", 3),
        row("five starts within a minute are",
            "0:run/100/0 10:run/101/1 20:run/102/2 30:run/103/3 40:run/104/4 50:run/105/5", ".....L", 5),
        row("five starts over more than a minute are not",
            "0:run/100/0 20:run/101/1 40:run/102/2 60:run/103/3 80:run/104/4 100:run/105/5", "......", 4));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("custom")
  void verdictWithFiveStartsInOneMinute(String name, String steps, String expected, long startsAtEnd) {
    assertVerdicts(new CrashLoopDetector(5, Duration.ofMinutes(1)), steps, expected, startsAtEnd);
  }

  @Test
  void describesTheCountAndTheWindow() {
    CrashLoopDetector d = new CrashLoopDetector();
    CrashLoopDetector.Verdict v = null;
    for (String step : "0:run/100/0 10:run/101/1 20:run/102/2 30:run/103/3 40:run/104/4".split(" ")) {
      v = observe(d, step);
    }
    assertEquals("4 starts in the last 5m", v.describe());
  }

  @Test
  void refusesThresholdsThatMakeNoSense() {
    assertThrows(IllegalArgumentException.class, () -> new CrashLoopDetector(0, Duration.ofMinutes(5)));
    assertThrows(IllegalArgumentException.class, () -> new CrashLoopDetector(3, Duration.ZERO));
  }

  private static void assertVerdicts(CrashLoopDetector d, String steps, String expected, long startsAtEnd) {
    StringBuilder actual = new StringBuilder();
    CrashLoopDetector.Verdict last = null;
    for (String step : steps.split(" ")) {
      last = observe(d, step);
      actual.append(last.crashLooping() ? 'L' : '.');
    }
    assertEquals(expected, actual.toString(), "verdict after each step of " + steps);
    assertEquals(startsAtEnd, last.startsInWindow(), "starts in the window at the end");
  }

  private static CrashLoopDetector.Verdict observe(CrashLoopDetector d, String step) {
    String[] t = step.split(":", 2);
    String[] s = t[1].split("/");
    long pid = Long.parseLong(s[1]);
    ServiceState state = switch (s[0]) {
      case "run" -> new ServiceState("loaded", "active", "running", pid, Long.parseLong(s[2]), "enabled");
      case "auto" -> new ServiceState("loaded", "activating", "auto-restart", pid, Long.parseLong(s[2]), "enabled");
      case "pre" -> new ServiceState("loaded", "activating", "start-pre", pid, Long.parseLong(s[2]), "enabled");
      case "failed" -> new ServiceState("loaded", "failed", "failed", pid, Long.parseLong(s[2]), "enabled");
      case "dead" -> new ServiceState("loaded", "inactive", "dead", pid, Long.parseLong(s[2]), "enabled");
      default -> throw new IllegalArgumentException("unknown state in step " + step);
    };
    return d.observe(state, T0.plusSeconds(Long.parseLong(t[0])));
  }

  private static Arguments row(String name, String steps, String expected, long startsAtEnd) {
    return Arguments.of(name, steps, expected, startsAtEnd);
  }
}
