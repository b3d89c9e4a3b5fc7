package io.istiovmagent.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.istiovmagent.server.Exposition;
import io.istiovmagent.util.PrometheusText;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The service's counters and histograms as they write themselves (the text format: core's PrometheusTextTest). */
class MetricFamiliesTest {
  @Test
  void anEscapedFamilyPassesPromtool() throws Exception {
    String text = new PrometheusText().family("x_total", "a \\ help\nin two lines", "counter")
        .sample("x_total", List.of("v"), List.of("a\"b\\c\nd"), 3).text();
    assertEquals("# HELP x_total a \\\\ help\\nin two lines\n# TYPE x_total counter\n"
        + "x_total{v=\"a\\\"b\\\\c\\nd\"} 3\n", text);
    assertEquals("", Exposition.promtoolProblems(text));
  }

  @ParameterizedTest
  @CsvSource({"0.004, 0.005", "0.005, 0.005", "0.0051, 0.01", "10, 10", "11, +Inf"})
  void anObservationFallsInTheFirstBucketItDoesNotExceed(double seconds, String le) {
    Histogram h = new Histogram("d_seconds", "d", ServiceMetrics.LATENCY_BUCKETS, "route");
    h.observe(seconds, "r");
    PrometheusText out = new PrometheusText();
    h.writeTo(out);
    String text = out.text();
    // The first bucket holding it holds 1, the one below it (if any) 0.
    assertEquals(true, text.contains("d_seconds_bucket{route=\"r\",le=\"" + le + "\"} 1\n"), text);
    int at = text.indexOf("le=\"" + le + "\"");
    String before = text.substring(0, at);
    assertEquals(true, !before.contains("} 1\n"), text);
    assertEquals(1, h.count("r"));
  }

  @Test
  void aCounterIsNamedTotalAndTakesItsLabelsInFull() {
    assertThrows(IllegalArgumentException.class, () -> new Counter("x", "h", "a"));
    Counter c = new Counter("x_total", "h", "a", "b");
    assertThrows(IllegalArgumentException.class, () -> c.inc("only one"));
    c.inc("1", "2");
    c.inc("1", "2");
    assertEquals(2, c.value("1", "2"));
  }
}
