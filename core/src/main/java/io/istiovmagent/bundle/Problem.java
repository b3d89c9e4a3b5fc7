package io.istiovmagent.bundle;

import java.util.Objects;

/**
 * One reason a bundle is refused: the file it concerns, the rule it broke (a short stable id) and a message that
 * says what to do next. Messages never contain secret material, and are always one short printable line: they quote
 * untrusted input (claims, names, parser errors), which must neither forge another {@code FILE: RULE:} line with a
 * newline nor flood a terminal, the journal or a health report.
 */
public record Problem(String file, String rule, String message) {
  /** The longest message kept; the rest is cut and marked. */
  public static final int MAX_MESSAGE = 400;

  public Problem {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(rule, "rule == null");
    Objects.requireNonNull(message, "message == null");
    message = oneLine(message, MAX_MESSAGE);
  }

  /** Control characters (also NUL, DEL, C1 and line and paragraph separators) become '?'; over max, cut with "...". */
  public static String oneLine(String s, int max) {
    StringBuilder sb = new StringBuilder(Math.min(s.length(), max + 3));
    for (int i = 0; i < s.length(); i++) {
      if (sb.length() >= max) {
        return sb.append("...").toString();
      }
      char c = s.charAt(i);
      sb.append(c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\u2028' || c == '\u2029' ? '?' : c);
    }
    return sb.toString();
  }

  /** The line printed on stderr: {@code FILE: RULE: message}. */
  public String format() {
    return file + ": " + rule + ": " + message;
  }

  @Override
  public String toString() {
    return format();
  }
}
