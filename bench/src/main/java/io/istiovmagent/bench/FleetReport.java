package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** How FleetBench writes its figures: P5.tsv (P7.tsv), the per-second timeline, and the numbers' formats. */
final class FleetReport {
  private FleetReport() {}

  /** The figures, written to P5.tsv as bench/run reads them ("key TAB value" lines) and shown the same way. */
  static final class Results {
    private final Path file;
    private final StringBuilder lines = new StringBuilder();

    Results(Path file) throws IOException {
      this.file = file;
      Files.deleteIfExists(file);
    }

    void put(String key, Object value) throws IOException {
      String line = key + "\t" + value + "\n";
      lines.append(line);
      Files.writeString(file, line, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    String text() {
      return lines.toString();
    }
  }

  /** The columns common to P5 and P7 (P5.timeline.csv has these, then agents_back). */
  static Timeline timeline(FleetStats stats, EndpointLogs logs, ProcSeries endpoint, ProcSeries fleet) {
    return new Timeline().column("second", s -> Integer.toString(s)).column("attempts", stats.attemptsPerSecond())
        .column("ok", stats.okPerSecond()).column("5xx", stats.serverErrorsPerSecond())
        .column("failed", stats.failedPerSecond()).column("endpoint_answered", logs.answered())
        .column("endpoint_cpu_pct", endpoint::cpuPct)
        .column("endpoint_rss_mib", s -> Long.toString(endpoint.rssKb()[s] / 1024))
        .column("fleet_cpu_pct", s -> s > 0 ? Long.toString(fleet.ticks()[s] - fleet.ticks()[s - 1]) : "");
  }

  /** Cores used on average over [from, to) from cumulative clock ticks sampled each second. */
  static double cores(long[] ticks, int from, int to) {
    int a = from;
    int z = to - 2; // the last sample before the outage began
    return ticks[a] < 0 || ticks[z] < 0 || z <= a ? Double.NaN
        : (double) (ticks[z] - ticks[a]) / Proc.CLOCK_TICKS / (z - a);
  }

  static int sum(int[] a, int from, int to) {
    int s = 0;
    for (int i = from; i < to; i++) {
      s += a[i];
    }
    return s;
  }

  static String ms(double micros) {
    return Double.isNaN(micros) ? "nan" : String.format(Locale.ROOT, "%.1f", micros / 1000.0);
  }

  static String f1(double d) {
    return Double.isNaN(d) ? "nan" : String.format(Locale.ROOT, "%.1f", d);
  }

  static String f2(double d) {
    return Double.isNaN(d) ? "nan" : String.format(Locale.ROOT, "%.2f", d);
  }
}
