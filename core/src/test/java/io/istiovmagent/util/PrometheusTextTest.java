package io.istiovmagent.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrometheusTextTest {
  @Test
  void escapesLabelValuesAndHelpSoNoValueEndsALineOrALabel() {
    String text = new PrometheusText().family("x_total", "a \\ help\nin two \"lines\"", "counter")
        .sample("x_total", List.of("v", "w"), List.of("a\"b\\c\nd", "plain-1.2_3/x"), 3).text();
    assertEquals("# HELP x_total a \\\\ help\\nin two \"lines\"\n# TYPE x_total counter\n"
        + "x_total{v=\"a\\\"b\\\\c\\nd\",w=\"plain-1.2_3/x\"} 3\n", text);
    assertThrows(IllegalArgumentException.class,
        () -> new PrometheusText().sample("x", List.of("a", "b"), List.of("1"), 1));
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "3, 3", "0.005, 0.005", "2.5, 2.5", "1e20, 1.0E20", "Infinity, +Inf", "-Infinity, -Inf",
      "NaN, NaN"})
  void writesNumbersAsPrometheusClientsDo(double value, String written) {
    assertEquals(written, PrometheusText.number(value));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "2026-01-02T03:04:05Z, 1767323045",
      "2026-01-02T03:04:05.500Z, 1767323045.5",
      "2026-01-02T03:04:05.007Z, 1767323045.007",
      "2026-01-02T03:04:05.000999Z, 1767323045",
      "1970-01-01T00:00:00Z, 0",
      "1969-12-31T23:59:58.750Z, -1.25"})
  void writesInstantsAsPlainSeconds(String instant, String expected) {
    assertEquals(expected, PrometheusText.seconds(Instant.parse(instant)));
  }
}
