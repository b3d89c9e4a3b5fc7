package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** How FleetBench writes its figures: P5.tsv, the per-second timeline, and the numbers' formats. */
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

  static void writeTimeline(Path file, FleetStats stats, EndpointLog log, long[] epTicks, long[] epRss,
      long[] fleetTicks, int end) throws IOException {
    int[] attempts = stats.attemptsPerSecond();
    int[] ok = stats.okPerSecond();
    int[] errors = stats.serverErrorsPerSecond();
    int[] failed = stats.failedPerSecond();
    int[] answered = log.answered();
    int[] back = stats.recoveredPerSecond();
    StringBuilder b = new StringBuilder("second,attempts,ok,5xx,failed,endpoint_answered,endpoint_cpu_pct,"
        + "endpoint_rss_mib,fleet_cpu_pct,agents_back\n");
    for (int s = 0; s < end; s++) {
      boolean cpu = s > 0 && epTicks[s] >= 0 && epTicks[s - 1] >= 0;
      b.append(s).append(',').append(attempts[s]).append(',').append(ok[s]).append(',').append(errors[s])
          .append(',').append(failed[s]).append(',').append(answered[s]).append(',')
          .append(cpu ? epTicks[s] - epTicks[s - 1] : "").append(',').append(epRss[s] / 1024).append(',')
          .append(s > 0 ? fleetTicks[s] - fleetTicks[s - 1] : "").append(',').append(back[s]).append('\n');
    }
    Files.writeString(file, b.toString());
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
