package io.istiovmagent.server.metrics;

import io.istiovmagent.util.PrometheusText;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * A histogram family: per combination of label values, a lock-free count per bucket and the sum. Written as
 * cumulative {@code _bucket{le=...}} lines, {@code _sum} and {@code _count}; the count is the +Inf bucket's, so the
 * two always agree, even in a scrape taken while a request is being counted.
 */
final class Histogram {
  private static final class Series {
    final LongAdder[] counts; // per bucket, not cumulative; the last one is +Inf
    final DoubleAdder sum = new DoubleAdder();

    Series(int buckets) {
      counts = new LongAdder[buckets + 1];
      for (int i = 0; i < counts.length; i++) {
        counts[i] = new LongAdder();
      }
    }
  }

  private final String name;
  private final String help;
  private final double[] bounds;
  private final List<String> labels;
  private final List<String> bucketLabels;
  private final ConcurrentHashMap<List<String>, Series> series = new ConcurrentHashMap<>();

  /** {@code bounds}: the buckets' upper bounds, ascending, +Inf left out (it is always there). */
  public Histogram(String name, String help, double[] bounds, String... labels) {
    for (int i = 0; i < bounds.length; i++) {
      if (!Double.isFinite(bounds[i]) || i > 0 && bounds[i] <= bounds[i - 1]) {
        throw new IllegalArgumentException(name + ": bucket bounds must be finite and ascending");
      }
    }
    this.name = name;
    this.help = help;
    this.bounds = bounds.clone();
    this.labels = List.of(labels);
    List<String> b = new ArrayList<>(this.labels);
    b.add("le");
    this.bucketLabels = List.copyOf(b);
  }

  /** Counts {@code value} (in the family's base unit) into the series of these label values. */
  public void observe(double value, String... values) {
    if (values.length != labels.size()) {
      throw new IllegalArgumentException(name + " has labels " + labels + ", given " + Arrays.toString(values));
    }
    Series s = series.computeIfAbsent(List.of(values), k -> new Series(bounds.length));
    int i = 0;
    while (i < bounds.length && value > bounds[i]) {
      i++;
    }
    s.counts[i].increment();
    s.sum.add(value);
  }

  /** Observations in the series so far; 0 when it does not exist. */
  public long count(String... values) {
    Series s = series.get(List.of(values));
    return s == null ? 0 : Arrays.stream(s.counts).mapToLong(LongAdder::sum).sum();
  }

  void writeTo(PrometheusText out) {
    out.family(name, help, "histogram");
    List<Map.Entry<List<String>, Series>> sorted = new ArrayList<>(series.entrySet());
    sorted.sort(Map.Entry.comparingByKey(Labels.ORDER));
    for (Map.Entry<List<String>, Series> e : sorted) {
      long cumulative = 0;
      for (int i = 0; i <= bounds.length; i++) {
        cumulative += e.getValue().counts[i].sum();
        List<String> v = new ArrayList<>(e.getKey());
        v.add(i < bounds.length ? PrometheusText.number(bounds[i]) : "+Inf");
        out.sample(name + "_bucket", bucketLabels, v, cumulative);
      }
      out.sample(name + "_sum", labels, e.getKey(), e.getValue().sum.sum());
      out.sample(name + "_count", labels, e.getKey(), cumulative);
    }
  }
}
