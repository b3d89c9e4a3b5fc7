package io.istiovmagent.util;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as people write and read them: "30s", "10m", "1h30m"; "3d 4h". */
public final class Durations {
  private static final Pattern PART = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

  private Durations() {}

  /** Parses one or more NUMBER+UNIT parts (ms, s, m, h, d), e.g. "90s", "1h30m". */
  public static Duration parse(String text) {
    String s = text.strip();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty duration; write e.g. 30s, 10m or 1h");
    }
    Matcher m = PART.matcher(s);
    Duration total = Duration.ZERO;
    int pos = 0;
    while (pos < s.length()) {
      if (!m.find(pos) || m.start() != pos) {
        throw new IllegalArgumentException("'" + text + "' is not a duration; write e.g. 30s, 10m, 1h or 1h30m");
      }
      long n = Long.parseLong(m.group(1));
      total = total.plus(switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      });
      pos = m.end();
    }
    return total;
  }

  public static String human(Duration d) {
    long s = Math.abs(d.toSeconds());
    long days = s / 86_400;
    long hours = (s % 86_400) / 3_600;
    long minutes = (s % 3_600) / 60;
    long seconds = s % 60;
    if (days > 0) {
      return days + "d" + (hours > 0 && days < 10 ? " " + hours + "h" : "");
    }
    if (hours > 0) {
      return hours + "h" + (minutes > 0 ? " " + minutes + "m" : "");
    }
    if (minutes > 0) {
      return minutes + "m" + (seconds > 0 && minutes < 10 ? " " + seconds + "s" : "");
    }
    return seconds + "s";
  }
}
