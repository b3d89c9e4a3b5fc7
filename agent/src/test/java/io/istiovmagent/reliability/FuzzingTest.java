package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.Slow;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Coverage-guided fuzzing of the parsers that take untrusted bytes, bounded, in the normal test run: each target of
 * {@code io.istiovmagent.verify.ParserFuzzTargets} is fuzzed by Jazzer in a JVM of its own (Jazzer fuzzes one
 * {@code @FuzzTest} per JVM) for {@code -Dfuzz.duration} (default 8s), with its corpus, findings and log under
 * target/jazzer/TARGET, never in the source tree. A finding (an exception other than the parser's own refusal, an
 * allocation over the bound, a name lookup, a hang over 10 s, an OutOfMemoryError at -Xmx256m or a stack overflow
 * at the production -Xss512k) fails the test with the input's path. docs/fuzzing.md: longer runs, reproducing.
 */
@Slow
class FuzzingTest {
  static final List<String> TARGETS = List.of("clusterEnv", "hosts", "meshYaml", "tokenClaims", "tarGz", "rootCert");
  private static final String TARGET_CLASS = "io.istiovmagent.verify.ParserFuzzTargets";
  private static final Pattern EXECUTIONS = Pattern.compile("ParserFuzzTargets executions: (\\d+)");
  private static final Pattern DONE = Pattern.compile("Done (\\d+) runs in (\\d+) second");
  private static final Pattern COVERAGE = Pattern.compile("#\\d+\\s+DONE\\s+cov: (\\d+) ft: (\\d+) corp: (\\d+)/");

  @TestFactory
  Stream<DynamicTest> fuzzEachParser() {
    String duration = System.getProperty("fuzz.duration", "8s");
    Set<String> only = Set.of(System.getProperty("fuzz.targets", String.join(",", TARGETS)).split(","));
    if (!TARGETS.containsAll(only)) {
      throw new IllegalArgumentException("fuzz.targets: choose from " + TARGETS + ", not " + only);
    }
    if (seconds(duration) == 0) {
      return Stream.empty(); // -Dfuzz.duration=0s skips fuzzing (for libFuzzer 0 would mean: forever)
    }
    return TARGETS.stream().filter(only::contains)
        .map(t -> DynamicTest.dynamicTest(t, () -> fuzz(t, duration)));
  }

  private static void fuzz(String target, String duration) throws Exception {
    Path work = Files.createDirectories(Path.of("target", "jazzer", target).toAbsolutePath());
    Path log = work.resolve("fuzz.log");
    Set<Path> before = artifacts(work);
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        // The agent's own limits (agent/istio-vm-agent) for the stack, so deep recursion shows as it would there;
        // a small heap so that unbounded allocation is an OutOfMemoryError, which Jazzer reports as a finding.
        "-Xss512k", "-Xmx256m", "-XX:+UseSerialGC",
        // A short run spends more on C2 compiling the instrumented code than it gains: C1 only, unless fuzzing long.
        seconds(duration) < 120 ? "-XX:TieredStopAtLevel=1" : "-XX:+TieredCompilation",
        "-DJAZZER_FUZZ=1",
        "-Djazzer.max_duration=" + duration,
        // Coverage feedback from our code and from the YAML, JSON, PEM and ASN.1 parsers it drives.
        "-Djazzer.instrument=io.istiovmagent.verify.**,io.istiovmagent.bundle.**,io.istiovmagent.util.**,"
            + "org.yaml.snakeyaml.**,com.fasterxml.jackson.core.**,org.bouncycastle.asn1.**,"
            + "org.bouncycastle.util.io.pem.**,org.bouncycastle.cert.**",
        "-Djazzer.custom_hooks=io.istiovmagent.verify.NoNameLookups",
        // libFuzzer flags (argv[0] first): a hang is an input that runs over 10 s; inputs up to 16 KiB.
        "-Djazzer.internal.arg.0=fuzz", "-Djazzer.internal.arg.1=-timeout=10",
        "-Djazzer.internal.arg.2=-max_len=16384", "-Djazzer.internal.arg.3=-print_final_stats=1",
        // Keep fuzzing after a finding, up to N distinct ones (for long runs that should collect several).
        "-Djazzer.keep_going=" + System.getProperty("fuzz.keepGoing", "1"),
        "-cp", testClassPath(), FuzzMain.class.getName(), TARGET_CLASS, target));
    long start = System.nanoTime();
    Process p = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    // A safety net only (libFuzzer stops itself after the duration): starting and instrumenting a JVM on a loaded
    // machine can take minutes.
    long budget = seconds(duration) + 900;
    if (!p.waitFor(budget, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError(target + ": the fuzzing JVM ran over " + budget + " s; killed. Log: " + log);
    }
    long wall = (System.nanoTime() - start) / 1_000_000_000;
    String out = Files.readString(log, StandardCharsets.ISO_8859_1);
    List<Path> findings = new ArrayList<>(artifacts(work));
    findings.removeAll(before);
    long executions = last(EXECUTIONS, out, 1); // parser calls, seeds included (two per input for two targets)
    long runs = last(DONE, out, 1); // inputs libFuzzer ran
    ProofSummary.add("fuzzing (Jazzer)", "executions", Math.max(runs, 0));
    ProofSummary.add("fuzzing (Jazzer)", "findings", findings.size() + (p.exitValue() != 0 && findings.isEmpty() ? 1 : 0));
    String tail = tail(out, 60);
    assertEquals(0, p.exitValue(), target + ": Jazzer reported a finding or failed; inputs " + findings + "\n" + tail);
    assertTrue(findings.isEmpty(), target + ": findings " + findings + "\n" + tail);
    assertTrue(runs > 0 && executions > 0, target + ": no fuzzing happened (libFuzzer runs " + runs
        + ", executions " + executions + ")\n" + tail);
    System.out.printf("fuzzing %-12s %8d inputs in %s s (JVM %d s), %d parser calls, coverage %s, corpus %s%n",
        target, runs, last(DONE, out, 2), wall, executions, last(COVERAGE, out, 1), last(COVERAGE, out, 3));
  }

  /** The class path of this test JVM: surefire names it in a property, the JVM's own may be a manifest jar. */
  static String testClassPath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  private static Set<Path> artifacts(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return Set.copyOf(s.filter(f -> Arrays.stream(new String[] {"crash-", "timeout-", "oom-", "leak-"})
          .anyMatch(f.getFileName().toString()::startsWith)).toList());
    }
  }

  private static long last(Pattern pattern, String text, int group) {
    Matcher m = pattern.matcher(text);
    long v = -1;
    while (m.find()) {
      v = Long.parseLong(m.group(group));
    }
    return v;
  }

  private static long seconds(String duration) {
    Matcher m = Pattern.compile("(\\d+)\\s*([smh]?)").matcher(duration.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("fuzz.duration: use e.g. 8s, 5m, 1h: " + duration);
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "m" -> n * 60;
      case "h" -> n * 3600;
      default -> n;
    };
  }

  private static String tail(String s, int lines) {
    String[] all = s.split("\n");
    return String.join("\n", Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }
}
