package io.istiovmagent.metrics;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

/**
 * Prometheus' text exposition format 0.0.4, as much of it as the agent needs: metric families with their HELP and
 * TYPE lines, samples with escaped label values, integers and timestamps written out in full (never "1.7e+09").
 * A family without samples is left out whole.
 */
final class Exposition {
  /** One sample: label names and values in pairs ({@code "class", "transient"}), and the value as written. */
  record Sample(List<String> labels, String value) {
    Sample {
      if (labels.size() % 2 != 0) {
        throw new IllegalArgumentException("labels come in name/value pairs: " + labels);
      }
    }

    static Sample of(long value, String... labels) {
      return new Sample(List.of(labels), Long.toString(value));
    }

    static Sample of(Instant at, String... labels) {
      return new Sample(List.of(labels), seconds(at));
    }
  }

  enum Type {
    GAUGE, COUNTER;

    String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final StringBuilder out = new StringBuilder();

  /** Adds a family; nothing at all when {@code samples} is empty (an unknown figure is absent, not 0). */
  Exposition family(String name, Type type, String help, List<Sample> samples) {
    if (samples.isEmpty()) {
      return this;
    }
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type.word()).append('\n');
    for (Sample s : samples) {
      out.append(name);
      if (!s.labels().isEmpty()) {
        out.append('{');
        for (int i = 0; i < s.labels().size(); i += 2) {
          out.append(i == 0 ? "" : ",").append(s.labels().get(i)).append("=\"")
              .append(escapeLabelValue(s.labels().get(i + 1))).append('"');
        }
        out.append('}');
      }
      out.append(' ').append(s.value()).append('\n');
    }
    return this;
  }

  /** A family of one unlabelled sample, or none when {@code at} is null. */
  Exposition instant(String name, String help, Instant at) {
    return family(name, Type.GAUGE, help, at == null ? List.of() : List.of(Sample.of(at)));
  }

  String text() {
    return out.toString();
  }

  /** Label values: backslash, double quote and line feed escaped (\\, \", \n), as the format says. */
  static String escapeLabelValue(String v) {
    StringBuilder b = new StringBuilder(v.length());
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        case '\n' -> b.append("\\n");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  /** HELP text: backslash and line feed escaped (a quote is itself there). */
  static String escapeHelp(String v) {
    return v.replace("\\", "\\\\").replace("\n", "\\n");
  }

  /** Seconds since the epoch, to the millisecond, in plain decimal: 1767225600 or 1767225600.25. */
  static String seconds(Instant at) {
    BigDecimal s = BigDecimal.valueOf(at.toEpochMilli(), 3).stripTrailingZeros();
    return s.scale() < 0 ? s.setScale(0).toPlainString() : s.toPlainString();
  }
}
