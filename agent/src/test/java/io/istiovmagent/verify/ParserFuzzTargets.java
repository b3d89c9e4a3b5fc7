package io.istiovmagent.verify;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.BundleLimits;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzReader;
import io.istiovmagent.testing.DocumentedRules;
import io.istiovmagent.testing.FuzzSeeds;
import io.istiovmagent.testing.TarBuilder;
import io.istiovmagent.testing.TestBundles;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzz targets for the parsers that take untrusted bytes. Each feeds Jazzer's mutated bytes to one
 * parser and checks the property every parser must keep, whatever the input: it returns a value or its own
 * validation error (a {@link Problem} with a documented rule, one printable line), never another exception; it
 * allocates a bounded amount; it never resolves a name ({@link NoNameLookups}); a hang is a libFuzzer timeout.
 *
 * <p>Not a *Test class on purpose: surefire does not run it in the shared test JVM (Jazzer installs an agent into
 * the JVM it runs in). {@code io.istiovmagent.reliability.FuzzingTest} runs each target in a JVM of its own, in
 * fuzzing mode, for a bounded time; docs/fuzzing.md says how to fuzz longer. The seeds are the hostile corpus
 * (src/test/resources/hostile), the istioctl sample and the files under ParserFuzzTargetsInputs/TARGET (past findings).
 */
public class ParserFuzzTargets {
  /** Executions per target in this JVM, read by the runner (FuzzingTest) from the child's output. */
  static final AtomicLong EXECUTIONS = new AtomicLong();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() ->
        System.out.println("ParserFuzzTargets executions: " + EXECUTIONS.get())));
  }

  /** The rules docs/verification.md documents: a refusal with any other is a finding. */
  static final Set<String> RULES = DocumentedRules.load();
  /** A refusal is one line of a terminal, a journal and a health report: printable and short. */
  static final int MAX_MESSAGE = 600;
  /** Per input: what any of these parsers may allocate, over 64 bytes per input byte. */
  static final long ALLOCATION_BOUND = 48L << 20;

  // --- the targets ---

  @MethodSource("clusterEnvSeeds")
  @FuzzTest
  public void clusterEnv(byte[] input) {
    check("cluster.env", input, p -> EnvFile.parse("cluster.env", input, p));
  }

  @MethodSource("hostsSeeds")
  @FuzzTest
  public void hosts(byte[] input) {
    check("hosts", input, p -> HostsEntry.parse(input, Set.of("gw.mesh.example"), p));
  }

  @MethodSource("meshSeeds")
  @FuzzTest
  public void meshYaml(byte[] input) {
    check("mesh.yaml", input, p -> MeshConfig.parse(input, p));
  }

  /**
   * The token as received, and, when the input holds a newline, HEADER-JSON NEWLINE PAYLOAD-JSON encoded into a
   * JWT: so the mutations reach the claim checks instead of dying in base64.
   */
  @MethodSource("tokenSeeds")
  @FuzzTest
  public void tokenClaims(byte[] input) {
    boolean restore = input.length % 2 == 1; // the restore path turns time problems into warnings
    check("istio-token", input, p -> TokenClaims.parse(input, "vm-namespace", "vm-sa", TestBundles.NOW, restore, p));
    int nl = indexOf(input, (byte) '\n');
    if (nl >= 0) {
      Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
      byte[] jwt = (b64.encodeToString(Arrays.copyOfRange(input, 0, nl)) + "."
          + b64.encodeToString(Arrays.copyOfRange(input, nl + 1, input.length)) + ".c2ln")
          .getBytes(StandardCharsets.US_ASCII);
      check("istio-token", jwt, p -> TokenClaims.parse(jwt, "vm-namespace", "vm-sa", TestBundles.NOW, restore, p));
    }
  }

  /** The bytes as a .tar.gz as received (the gzip layer), and gzip'd here (so mutations reach the tar layer). */
  @MethodSource("tarSeeds")
  @FuzzTest
  public void tarGz(byte[] input) {
    readArchive(input);
    readArchive(TarBuilder.gzip(input));
  }

  @MethodSource("rootCertSeeds")
  @FuzzTest
  public void rootCert(byte[] input) {
    check("root-cert.pem", input, p -> RootCertificate.parse(input, TestBundles.NOW, p));
  }

  // --- the property ---

  private static void check(String file, byte[] input, Function<Problems, Object> parse) {
    EXECUTIONS.incrementAndGet();
    Problems problems = new Problems();
    long before = allocated();
    Object result = parse.apply(problems); // any exception escaping is a finding
    if (allocated() - before > ALLOCATION_BOUND + 64L * input.length) {
      // The first run of a code path also loads and instruments classes on this thread: measure once more.
      before = allocated();
      parse.apply(new Problems());
      long used = allocated() - before;
      if (used > ALLOCATION_BOUND + 64L * input.length) {
        throw new AssertionError(file + ": parsing " + input.length + " bytes allocated " + used + " bytes");
      }
    }
    if ((result == null) != problems.hasErrors()) {
      throw new AssertionError(file + ": result " + (result == null ? "null" : "present") + " but errors "
          + problems.errors());
    }
    for (Problem p : problems.errors()) {
      checkProblem(p, file);
    }
    for (Problem p : problems.warnings()) {
      checkProblem(p, file);
    }
  }

  private static void readArchive(byte[] archive) {
    EXECUTIONS.incrementAndGet();
    long before = allocated();
    readArchiveOnce(archive);
    if (allocated() - before > ALLOCATION_BOUND + 64L * archive.length) {
      before = allocated(); // the first run of a code path also loads and instruments classes: measure again
      readArchiveOnce(archive);
      long used = allocated() - before;
      // The reader holds at most the 1 MiB of files plus one copy while collecting them.
      if (used > ALLOCATION_BOUND + 64L * archive.length) {
        throw new AssertionError("reading " + archive.length + " bytes allocated " + used + " bytes");
      }
    }
  }

  private static void readArchiveOnce(byte[] archive) {
    try {
      RawBundle b = TarGzReader.read(archive);
      long total = 0;
      for (byte[] content : b.files().values()) {
        if (content.length > BundleLimits.MAX_FILE_BYTES) {
          throw new AssertionError("a file of " + content.length + " bytes passed the reader");
        }
        total += content.length;
      }
      if (total > BundleLimits.MAX_TOTAL_BYTES) {
        throw new AssertionError(total + " bytes in all passed the reader");
      }
    } catch (BadBundleException e) {
      if (e.problems().size() != 1) {
        throw new AssertionError("the reader reports its first problem only: " + e.problems());
      }
      Problem p = e.problems().get(0);
      String where = p.file().equals("archive") ? "archive" : BundleFile.byName(p.file()).map(f -> p.file())
          .orElseThrow(() -> new AssertionError("unexpected file in " + p.format()));
      checkProblem(p, where);
    }
  }

  private static void checkProblem(Problem p, String file) {
    String where = p.file();
    if (!(where.equals(file) || where.startsWith(file + ":") || where.startsWith(file + " ("))) {
      throw new AssertionError("problem for '" + where + "' while parsing " + file + ": " + p.format());
    }
    if (!RULES.contains(p.rule())) {
      throw new AssertionError("undocumented rule: " + p.format());
    }
    String m = p.format();
    if (p.message().isBlank() || m.length() > MAX_MESSAGE) {
      throw new AssertionError("message blank or over " + MAX_MESSAGE + " chars (" + m.length() + "): "
          + m.substring(0, Math.min(m.length(), 200)));
    }
    for (int i = 0; i < m.length(); i++) {
      char c = m.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085') {
        throw new AssertionError("message is not one printable line (U+" + String.format("%04X", (int) c) + "): "
            + m.substring(0, Math.min(m.length(), 200)));
      }
    }
  }

  private static long allocated() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
  }

  private static int indexOf(byte[] b, byte x) {
    for (int i = 0; i < b.length; i++) {
      if (b[i] == x) {
        return i;
      }
    }
    return -1;
  }

  // --- seeds: the hostile corpus, the istioctl sample, and forms of them that reach deeper ---

  static Stream<byte[]> clusterEnvSeeds() {
    return FuzzSeeds.concat(FuzzSeeds.sample("cluster.env"), FuzzSeeds.hostile("cluster.env"),
        FuzzSeeds.hostile("sidecar.env"));
  }

  static Stream<byte[]> hostsSeeds() {
    return FuzzSeeds.concat(FuzzSeeds.sample("hosts"), FuzzSeeds.hostile("hosts"));
  }

  static Stream<byte[]> meshSeeds() {
    return FuzzSeeds.concat(FuzzSeeds.sample("mesh.yaml"), FuzzSeeds.hostile("mesh.yaml"));
  }

  static Stream<byte[]> tokenSeeds() {
    List<byte[]> raw = FuzzSeeds.concat(FuzzSeeds.sample("istio-token"), FuzzSeeds.hostile("istio-token")).toList();
    return Stream.concat(raw.stream(), raw.stream().map(FuzzSeeds::decodedJwt).filter(b -> b != null));
  }

  static Stream<byte[]> tarSeeds() {
    List<byte[]> archives = FuzzSeeds.hostile("archive").toList();
    return Stream.concat(archives.stream(), archives.stream().map(FuzzSeeds::gunzipSmall).filter(b -> b != null));
  }

  static Stream<byte[]> rootCertSeeds() {
    return FuzzSeeds.concat(FuzzSeeds.sample("root-cert.pem"), FuzzSeeds.hostile("root-cert.pem"));
  }
}
