package io.istiovmagent.server.metrics;

import io.istiovmagent.util.PrometheusText;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A counter family: one lock-free adder per combination of label values. Label values must come from a small,
 * known set (a route pattern, a status code), never from what a client sends: each one is a series for ever.
 */
final class Counter {
  private final String name;
  private final String help;
  private final List<String> labels;
  private final ConcurrentHashMap<List<String>, LongAdder> series = new ConcurrentHashMap<>();

  public Counter(String name, String help, String... labels) {
    if (!name.endsWith("_total")) {
      throw new IllegalArgumentException("a counter's name ends in _total: " + name);
    }
    this.name = name;
    this.help = help;
    this.labels = List.of(labels);
  }

  /** Adds one to the series of these label values (in the order of the label names). */
  public void inc(String... values) {
    adder(values).increment();
  }

  /** Makes the series exist at 0, so that a rate over it starts from the service's start, not its first event. */
  public void init(String... values) {
    adder(values);
  }

  /** The series' count; 0 when it does not exist. */
  public long value(String... values) {
    LongAdder a = series.get(List.of(values));
    return a == null ? 0 : a.sum();
  }

  void writeTo(PrometheusText out) {
    out.family(name, help, "counter");
    List<Map.Entry<List<String>, LongAdder>> sorted = new ArrayList<>(series.entrySet());
    sorted.sort(Map.Entry.comparingByKey(Labels.ORDER));
    for (Map.Entry<List<String>, LongAdder> e : sorted) {
      out.sample(name, labels, e.getKey(), e.getValue().sum());
    }
  }

  private LongAdder adder(String... values) {
    if (values.length != labels.size()) {
      throw new IllegalArgumentException(name + " has labels " + labels + ", given " + Arrays.toString(values));
    }
    return series.computeIfAbsent(List.of(values), k -> new LongAdder());
  }
}
