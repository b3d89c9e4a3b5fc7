package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.istiovmagent.cli.Main;
import io.istiovmagent.testing.DocumentedRules;
import io.istiovmagent.testing.HostileCorpus;
import io.istiovmagent.testing.HostileCorpus.Case;
import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every case of the hostile-input corpus (src/test/resources/hostile, listed in its index.tsv) through the real
 * command line, `apply`, against a temporary root that already holds a good bundle: the agent must exit 65, print
 * the problem as {@code FILE: RULE: message} naming the file and the rule the case breaks, print nothing but such
 * lines (each one short printable line, so no input can forge or flood them) and the closing "refused" line, and
 * leave every byte, mode, owner, inode and mtime under the root as it was.
 */
class HostileInputTest {
  private static final Pattern PROBLEM_LINE =
      Pattern.compile("([a-z.-]+(?::\\d+| \\(certificate \\d+\\))?): ([a-z0-9-]+): (.+)");
  private static final Pattern REFUSED_LINE =
      Pattern.compile("bundle from .+ refused \\(\\d+ problems?\\); nothing was changed");
  /** A refusal is a line for a terminal, a journal and a health report. */
  private static final int MAX_LINE = 600;
  /** What one refused `apply` may allocate; the agent runs with -Xmx64m (agent/istio-vm-agent). */
  private static final long MAX_ALLOCATED = 64L << 20;

  @TempDir
  Path tmp;

  /** A root where `apply` installed the istioctl sample; each case gets a copy (cp -a: owners, modes, times). */
  @TempDir
  static Path installed;

  record Run(int code, String out, String err, long allocated) {}

  static Stream<Case> cases() {
    return HostileCorpus.index().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void refusedWithExit65AndNothingChanged(Case c) throws Exception {
    ProofSummary.add("hostile inputs", "inputs", 1);
    Path root = tmp.resolve("root");
    run("cp", "-a", goodRoot().toString(), root.toString());
    Map<String, String> before = TreeSnapshot.of(root);
    assertTrue(before.containsKey("/var/run/secrets/tokens/istio-token"), "the good bundle is installed");

    String source = HostileCorpus.materialize(c, tmp.resolve("case"));
    Run r = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> cli("--root", root.toString(), "apply", source),
        c + ": apply did not finish");

    assertEquals(65, r.code(), c + ": exit code; stderr:\n" + r.err() + "\nstdout:\n" + r.out());
    assertEquals("", r.out(), c + ": nothing on stdout");
    List<String> lines = List.of(r.err().split("\n", -1));
    assertEquals("", lines.get(lines.size() - 1), c + ": stderr ends with a newline");
    lines = lines.subList(0, lines.size() - 1);
    assertTrue(REFUSED_LINE.matcher(lines.get(lines.size() - 1)).matches(), c + ": last line: " + r.err());
    Set<String> documented = DocumentedRules.load();
    boolean named = false;
    for (String line : lines.subList(0, lines.size() - 1)) {
      Matcher m = PROBLEM_LINE.matcher(line);
      assertTrue(m.matches(), c + ": not a FILE: RULE: message line: " + shorten(line));
      assertTrue(documented.contains(m.group(2)), c + ": rule not in docs/verification.md: " + shorten(line));
      assertTrue(line.length() <= MAX_LINE, c + ": a line of " + line.length() + " chars: " + shorten(line));
      assertTrue(line.chars().allMatch(ch -> ch >= 0x20 && ch != 0x7f && ch != 0x85 && ch != 0x2028
          && ch != 0x2029), c + ": a control character in: " + shorten(line));
      named |= line.startsWith(c.fileAndRule() + ": ") && line.contains(c.fragment());
    }
    assertTrue(named, c + ": no line '" + c.fileAndRule() + ": ...' containing '" + c.fragment() + "' in:\n"
        + shorten(r.err()));
    if (c.group().equals("istio-token")) {
      for (String part : new String(HostileCorpus.content(c.path()), StandardCharsets.UTF_8).split("\\.")) {
        if (part.strip().length() >= 16) {
          assertTrue(!r.err().contains(part.strip()), c + ": the token's text reached a message");
        }
      }
    }
    assertTrue(r.allocated() <= MAX_ALLOCATED, c + ": apply allocated " + r.allocated() + " bytes");
    assertEquals(before, TreeSnapshot.of(root), c + ": something under the root changed");
    ProofSummary.add("hostile inputs", "refused with exit 65, nothing changed", 1);
  }

  /** Each case file is listed once in index.tsv, and each listed case exists. */
  @Test
  void indexListsEveryCaseFile() throws IOException {
    Set<String> listed = new TreeSet<>();
    for (Case c : HostileCorpus.index()) {
      assertTrue(listed.add(c.id()), "listed twice: " + c.id());
      assertTrue(Files.isRegularFile(c.path()), "listed but missing: " + c.id());
      assertTrue(!c.fragment().isEmpty(), "no message fragment: " + c.id());
    }
    Set<String> files = new TreeSet<>();
    try (Stream<Path> s = Files.walk(HostileCorpus.root())) {
      s.filter(Files::isRegularFile).map(p -> HostileCorpus.root().relativize(p).toString())
          .filter(p -> p.contains("/")).forEach(files::add);
    }
    assertEquals(files, listed, "index.tsv and the case files differ");
  }

  /** The corpus covers every rule docs/verification.md documents, and names no other. */
  @Test
  void everyDocumentedRuleHasACase() {
    Set<String> documented = DocumentedRules.load();
    Set<String> covered = HostileCorpus.index().stream()
        .map(c -> c.fileAndRule().substring(c.fileAndRule().lastIndexOf(": ") + 2)).collect(Collectors.toSet());
    Set<String> uncovered = new TreeSet<>(documented);
    uncovered.removeAll(covered);
    uncovered.remove("cert-expiring"); // a warning: the bundle is accepted
    assertEquals(Set.of(), uncovered, "documented rules without a hostile case");
    Set<String> undocumented = new TreeSet<>(covered);
    undocumented.removeAll(documented);
    assertEquals(Set.of(), undocumented, "rules in index.tsv that docs/verification.md does not document");
  }

  private static synchronized Path goodRoot() throws IOException {
    Path root = installed.resolve("root");
    if (!Files.isDirectory(root)) {
      TestBundles.newRoot(root, true);
      Run r = cli("--root", root.toString(), "apply", goodBundle(installed.resolve("good-bundle")).toString());
      assertEquals(0, r.code(), "the good bundle must install: " + r.err());
    }
    return root;
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      fail(String.join(" ", cmd) + " failed: " + out);
    }
  }

  private static Path goodBundle(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (String f : new String[] {"cluster.env", "mesh.yaml", "root-cert.pem", "istio-token", "hosts"}) {
      try (var in = HostileInputTest.class.getResourceAsStream("/istioctl-sample/" + f)) {
        Files.write(dir.resolve(f), in.readAllBytes());
      }
    }
    return dir;
  }

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    int code = Main.run(TestBundles.CLOCK, new PrintWriter(out, true), new PrintWriter(err, true), args);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    return new Run(code, out.toString(), err.toString(), allocated);
  }

  private static String shorten(String s) {
    return s.length() <= 400 ? s : s.substring(0, 400) + "... (" + s.length() + " chars)";
  }
}
