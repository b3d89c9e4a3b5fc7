package io.istiovmagent.metrics;

import io.istiovmagent.util.PrometheusText;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The agent's families in Prometheus' text exposition format 0.0.4 (written by core's {@link PrometheusText}):
 * samples with their labels in name/value pairs, integers and timestamps written out in full (never "1.7e+09").
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
      return new Sample(List.of(labels), PrometheusText.seconds(at));
    }
  }

  enum Type {
    GAUGE, COUNTER;

    String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private final PrometheusText out = new PrometheusText();

  /** Adds a family; nothing at all when {@code samples} is empty (an unknown figure is absent, not 0). */
  Exposition family(String name, Type type, String help, List<Sample> samples) {
    if (samples.isEmpty()) {
      return this;
    }
    out.family(name, help, type.word());
    for (Sample s : samples) {
      List<String> names = new ArrayList<>();
      List<String> values = new ArrayList<>();
      for (int i = 0; i < s.labels().size(); i += 2) {
        names.add(s.labels().get(i));
        values.add(s.labels().get(i + 1));
      }
      out.sample(name, names, values, s.value());
    }
    return this;
  }

  /** A family of one unlabelled sample, or none when {@code at} is null. */
  Exposition instant(String name, String help, Instant at) {
    return family(name, Type.GAUGE, help, at == null ? List.of() : List.of(Sample.of(at)));
  }

  String text() {
    return out.text();
  }
}
