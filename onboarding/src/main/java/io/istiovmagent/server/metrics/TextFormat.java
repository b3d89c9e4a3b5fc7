package io.istiovmagent.server.metrics;

import java.util.List;

/**
 * Writes Prometheus' text exposition format, version 0.0.4: a HELP and a TYPE line per family, then one line per
 * sample. Label values and help texts are escaped as the format says, so no value can end a line or a label early.
 * Pure.
 */
public final class TextFormat {
  /** The Content-Type of a scrape's answer. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final StringBuilder out = new StringBuilder(4096);

  /** Starts a family: {@code type} is counter, gauge or histogram. */
  public TextFormat family(String name, String help, String type) {
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    return this;
  }

  /** One sample; {@code names} and {@code values} pair up. */
  public TextFormat sample(String name, List<String> names, List<String> values, double value) {
    if (names.size() != values.size()) {
      throw new IllegalArgumentException(name + ": " + names.size() + " label names, " + values.size() + " values");
    }
    out.append(name);
    if (!names.isEmpty()) {
      out.append('{');
      for (int i = 0; i < names.size(); i++) {
        out.append(i == 0 ? "" : ",").append(names.get(i)).append("=\"").append(escapeLabel(values.get(i)))
            .append('"');
      }
      out.append('}');
    }
    out.append(' ').append(number(value)).append('\n');
    return this;
  }

  public String text() {
    return out.toString();
  }

  /** A label value: backslash, double quote and line feed escaped. */
  static String escapeLabel(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** A help text: backslash and line feed escaped. */
  static String escapeHelp(String s) {
    return s.replace("\\", "\\\\").replace("\n", "\\n");
  }

  /** As Prometheus' own clients write numbers: integers without a fraction, +Inf, -Inf, NaN. */
  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }
}
