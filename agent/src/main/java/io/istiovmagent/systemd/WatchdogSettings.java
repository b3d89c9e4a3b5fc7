package io.istiovmagent.systemd;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/** The watchdog systemd asks this process to keep alive (WatchdogSec=), read as sd_watchdog_enabled(3) does. */
public record WatchdogSettings(Duration interval) {
  public WatchdogSettings {
    Objects.requireNonNull(interval, "interval == null");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("watchdog interval must be positive, got " + interval);
    }
  }

  /**
   * Present when WATCHDOG_USEC is a positive integer and WATCHDOG_PID is unset or equal to {@code pid}: systemd sets
   * WATCHDOG_PID to the main process, and a child that inherited the environment must not ping for it. Any value
   * that does not parse means no watchdog; this never throws on the environment's content.
   */
  public static Optional<WatchdogSettings> fromEnvironment(Map<String, String> env, long pid) {
    Objects.requireNonNull(env, "env == null");
    long usec = parsePositive(env.get("WATCHDOG_USEC"));
    if (usec <= 0) {
      return Optional.empty();
    }
    String watchdogPid = env.get("WATCHDOG_PID");
    if (watchdogPid != null && parsePositive(watchdogPid) != pid) {
      return Optional.empty();
    }
    return Optional.of(new WatchdogSettings(Duration.of(usec, ChronoUnit.MICROS)));
  }

  /** How often to send WATCHDOG=1: half the interval, as sd_watchdog_enabled(3) advises, so one late ping is safe. */
  public Duration pingEvery() {
    return interval.dividedBy(2);
  }

  /** The decimal digits as a positive long, or -1 for anything else (null, empty, signs, spaces, overflow). */
  private static long parsePositive(String s) {
    if (s == null || s.isEmpty()) {
      return -1;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return -1;
      }
    }
    try {
      long v = Long.parseLong(s);
      return v > 0 ? v : -1;
    } catch (NumberFormatException tooLarge) {
      return -1;
    }
  }
}
