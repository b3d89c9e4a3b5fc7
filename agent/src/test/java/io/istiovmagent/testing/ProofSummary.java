package io.istiovmagent.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

/**
 * The reliability and security suites' figures, printed as one table when the test run ends (and written to
 * target/reliability-summary.txt): kills and torn files, faults and files changed, hostile inputs and refusals,
 * fuzz executions and findings, leaked secrets, the unit's exposure score, the system test. A suite adds to its
 * row with {@link #add}; the assertions stay in the suites (a red figure is a failed test, not only a number here).
 * Registered as a JUnit Platform launcher listener (META-INF/services); prints nothing when no suite reported.
 *
 * <p>{@code mvn verify} runs two JVMs: surefire's (the unit and reliability suites) and then failsafe's (the
 * package checks and the booted-Debian system test), which pom.xml starts with {@code -Dproof.phase=integration}.
 * The first keeps its rows in target/reliability-rows.tsv; the second prints them together with its own, so the
 * build ends with one table (also written to target/reliability-summary.txt). Each unit run rewrites the file.
 */
public final class ProofSummary implements TestExecutionListener {
  /** row -> figure -> value; in the order first reported. */
  private static final Map<String, Map<String, Long>> ROWS = new LinkedHashMap<>();
  private static final Map<String, String> NOTES = new LinkedHashMap<>();

  /** Adds {@code n} to a figure of a row, e.g. add("crash consistency", "kills", 1). */
  public static synchronized void add(String row, String figure, long n) {
    ROWS.computeIfAbsent(row, r -> new LinkedHashMap<>()).merge(figure, n, Long::sum);
  }

  /** A figure that is not a count (e.g. the exposure score "2.1 (limit 2.5)"). */
  public static synchronized void note(String row, String text) {
    ROWS.computeIfAbsent(row, r -> new LinkedHashMap<>());
    NOTES.put(row, text);
  }

  /** This JVM's rows: row name, then its figures joined ("12 kills, 0 torn"). */
  static synchronized Map<String, String> rows() {
    Map<String, String> out = new LinkedHashMap<>();
    ROWS.forEach((row, counts) -> {
      List<String> figures = new ArrayList<>();
      counts.forEach((k, v) -> figures.add(v + " " + k));
      if (NOTES.containsKey(row)) {
        figures.add(NOTES.get(row));
      }
      out.put(row, String.join(", ", figures));
    });
    return out;
  }

  static String table(Map<String, String> rows) {
    if (rows.isEmpty()) {
      return "";
    }
    int width = rows.keySet().stream().mapToInt(String::length).max().orElse(0);
    StringBuilder t = new StringBuilder("reliability and security summary\n");
    rows.forEach((row, figures) -> t.append(String.format("  %-" + width + "s  %s%n", row, figures)));
    return t.toString();
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    Path target = Path.of("target");
    if (!Files.isDirectory(target)) {
      return;
    }
    Path unitRows = target.resolve("reliability-rows.tsv");
    Map<String, String> rows = new LinkedHashMap<>();
    try {
      if (System.getProperty("proof.phase", "unit").equals("integration")) {
        if (Files.exists(unitRows)) {
          for (String line : Files.readAllLines(unitRows, StandardCharsets.UTF_8)) {
            String[] cols = line.split("\t", 2);
            rows.put(cols[0], cols.length > 1 ? cols[1] : "");
          }
        }
        rows.putAll(rows());
      } else {
        // The unit phase keeps its rows for the integration phase, which prints the one table.
        StringBuilder tsv = new StringBuilder();
        rows().forEach((row, figures) -> tsv.append(row).append('\t').append(figures).append('\n'));
        Files.writeString(unitRows, tsv, StandardCharsets.UTF_8);
        return;
      }
      String t = table(rows);
      if (!t.isEmpty()) {
        System.out.print("\n" + t);
        Files.writeString(target.resolve("reliability-summary.txt"), t, StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
