package io.istiovmagent.util;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * Prometheus' text exposition format, version 0.0.4, for both programs (the agent's textfile, the service's
 * {@code /metrics}): a HELP and a TYPE line per family, then one line per sample. Label values and help texts are
 * escaped as the format says, so no value can end a line or a label early; numbers and instants are written in
 * plain decimal (never "1.7E9"). Pure.
 */
public final class PrometheusText {
  /** The Content-Type of a scrape's answer. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final StringBuilder out = new StringBuilder(4096);

  /** Starts a family: {@code type} is counter, gauge or histogram. */
  public PrometheusText family(String name, String help, String type) {
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    return this;
  }

  /** One sample; {@code names} and {@code values} pair up. */
  public PrometheusText sample(String name, List<String> names, List<String> values, double value) {
    return sample(name, names, values, number(value));
  }

  /** One sample whose value is already written ({@link #number}, {@link #seconds}). */
  public PrometheusText sample(String name, List<String> names, List<String> values, String value) {
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
    out.append(' ').append(value).append('\n');
    return this;
  }

  public String text() {
    return out.toString();
  }

  /** A label value: backslash, double quote and line feed escaped. */
  public static String escapeLabel(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** A help text: backslash and line feed escaped (a quote is itself there). */
  public static String escapeHelp(String s) {
    return s.replace("\\", "\\\\").replace("\n", "\\n");
  }

  /** As Prometheus' own clients write numbers: integers without a fraction, +Inf, -Inf, NaN. */
  public static String number(double v) {
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

  /** Seconds since the epoch, to the millisecond, in plain decimal: 1767225600 or 1767225600.25. */
  public static String seconds(Instant at) {
    BigDecimal s = BigDecimal.valueOf(at.toEpochMilli(), 3).stripTrailingZeros();
    return s.scale() < 0 ? s.setScale(0).toPlainString() : s.toPlainString();
  }
}
