package io.istiovmagent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import io.istiovmagent.fs.RootFs;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file as written, checked by Debian's own promtool (`promtool check metrics`: the format, and Prometheus'
 * naming lints). promtool missing is a failure, not a skip: ./dev/ensure-tools installs it.
 */
class PromtoolCheckTest {
  @TempDir
  Path root;

  static java.util.List<AgentStatus> statuses() {
    return java.util.List.of(MetricsFixtures.running(), MetricsFixtures.unconfigured());
  }

  @ParameterizedTest
  @MethodSource("statuses")
  void promtoolFindsNothingToSayAboutTheWrittenFile(AgentStatus s) throws Exception {
    Path dir = Files.createDirectories(root.resolve("var/lib/prometheus/node-exporter"));
    TextfileWriter w = new TextfileWriter(new RootFs(root), new Log(new PrintStream(System.err), false));
    w.configure(io.istiovmagent.config.AgentConfig.defaults().metrics());
    assertTrue(w.step(MetricsFixtures.NOW, AgentMetrics.render(s, MetricsFixtures.counters()), false));
    Result r = promtool(dir.resolve(TextfileWriter.FILE_NAME));
    assertEquals(0, r.code(), () -> "promtool check metrics:\n" + r.output());
    assertEquals("", r.output().strip());
  }

  @Test
  void promtoolDoesCatchWhatItShould() throws Exception {
    // The check above means something only if promtool fails a file that breaks a rule.
    Path bad = Files.writeString(root.resolve("bad.prom"), "# HELP x a\n# TYPE x counter\nx 1\n");
    Result r = promtool(bad);
    assertNotEquals(0, r.code(), r.output());
    assertTrue(r.output().contains("_total"), r.output());
  }

  record Result(int code, String output) {}

  private static Result promtool(Path file) throws Exception {
    Process p = new ProcessBuilder(require("promtool", "prometheus"), "check", "metrics")
        .redirectInput(file.toFile()).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool did not finish within 60 s");
    return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  /** The tool's path; missing is a failure, as for the packaging checks' lintian and systemd-analyze. */
  private static String require(String tool, String debianPackage) {
    for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, tool);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new AssertionError(tool + " is not installed, and this check needs it: apt-get install "
        + "--no-install-recommends " + debianPackage + " (./dev/ensure-tools installs it)");
  }
}
