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
 * fuzz executions and findings, leaked secrets, the unit's exposure score. A suite adds to its row with
 * {@link #add}; the assertions stay in the suites (a red figure is a failed test, not only a number here).
 * Registered as a JUnit Platform launcher listener (META-INF/services); prints nothing when no suite reported.
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

  static synchronized String table() {
    if (ROWS.isEmpty()) {
      return "";
    }
    int width = ROWS.keySet().stream().mapToInt(String::length).max().orElse(0);
    List<String> lines = new ArrayList<>();
    lines.add("reliability and security summary");
    for (Map.Entry<String, Map<String, Long>> row : ROWS.entrySet()) {
      List<String> figures = new ArrayList<>();
      row.getValue().forEach((k, v) -> figures.add(v + " " + k));
      if (NOTES.containsKey(row.getKey())) {
        figures.add(NOTES.get(row.getKey()));
      }
      lines.add(String.format("  %-" + width + "s  %s", row.getKey(), String.join(", ", figures)));
    }
    return String.join("\n", lines) + "\n";
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    String t = table();
    if (t.isEmpty()) {
      return;
    }
    System.out.print("\n" + t);
    try {
      Path target = Path.of("target");
      if (Files.isDirectory(target)) {
        Files.writeString(target.resolve("reliability-summary.txt"), t, StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
