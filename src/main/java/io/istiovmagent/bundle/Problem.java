package io.istiovmagent.bundle;

import java.util.Objects;

/**
 * One reason a bundle is refused: the file it concerns, the rule it broke (a short stable id) and a message that
 * says what to do next. Messages never contain secret material.
 */
public record Problem(String file, String rule, String message) {
  public Problem {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(rule, "rule == null");
    Objects.requireNonNull(message, "message == null");
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
