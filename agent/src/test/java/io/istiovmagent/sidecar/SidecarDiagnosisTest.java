package io.istiovmagent.sidecar;

import static io.istiovmagent.sidecar.SystemctlServiceManagerTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link SidecarDiagnosis} reading istio.err.log under a temporary root. */
class SidecarDiagnosisTest {
  /** Shaped like a service-account token; header {"alg":"RS256","kid":"k"}. */
  private static final String JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl-_x";

  @TempDir Path root;
  private Path log;

  @BeforeEach
  void logDirectory() throws IOException {
    log = root.resolve("var/log/istio/istio.err.log");
    Files.createDirectories(log.getParent());
  }

  private SidecarDiagnosis.Result read() {
    return new SidecarDiagnosis(new RootFs(root)).lastLines(Set.of());
  }

  private static List<String> lines(SidecarDiagnosis.Result r) {
    return assertInstanceOf(SidecarDiagnosis.Result.Tail.class, r).lines();
  }

  private static String numbered(int from, int to) {
    return IntStream.rangeClosed(from, to).mapToObj(i -> "line " + i + "\n").collect(Collectors.joining());
  }

  private static List<String> expected(int from, int to) {
    return IntStream.rangeClosed(from, to).mapToObj(i -> "line " + i).toList();
  }

  /** istio-proxy owns /var/log/istio: a link planted there must not make root copy a secret file into the status. */
  @Test
  void neverReadsThroughALinkAtTheLog() throws IOException {
    Path shadow = Files.writeString(Files.createDirectories(root.resolve("etc")).resolve("shadow"),
        "root:$6$secret-hash:19000:0:99999:7:::\n");
    Files.createSymbolicLink(log, log.getParent().relativize(shadow));

    SidecarDiagnosis.Result r = read();

    assertInstanceOf(SidecarDiagnosis.Result.Unreadable.class, r, r.toString());
    assertFalse(r.toString().contains("secret-hash"), r.toString());
    assertTrue(r.toString().contains("symbolic link"), r.toString());
  }

  @Test
  void missingLogIsAResultThatSaysSoNotAnException() {
    SidecarDiagnosis.Result r = read();

    SidecarDiagnosis.Result.Missing m = assertInstanceOf(SidecarDiagnosis.Result.Missing.class, r);
    assertContains(m.message(), "no istio.err.log yet at /var/log/istio/istio.err.log");
  }

  @Test
  void missingLogDirectoryIsMissingToo() throws IOException {
    Files.delete(log.getParent());

    assertInstanceOf(SidecarDiagnosis.Result.Missing.class, read());
  }

  @Test
  void directoryInPlaceOfTheLogIsUnreadable() throws IOException {
    Files.createDirectory(log);

    SidecarDiagnosis.Result.Unreadable u = assertInstanceOf(SidecarDiagnosis.Result.Unreadable.class, read());
    assertContains(u.message(), "is a directory");
  }

  @Test
  void returnsTheLastTwentyLinesOldestFirst() throws IOException {
    Files.writeString(log, numbered(1, 100));

    SidecarDiagnosis.Result.Tail t = assertInstanceOf(SidecarDiagnosis.Result.Tail.class, read());

    assertEquals(expected(81, 100), t.lines());
    assertTrue(t.truncated());
  }

  @Test
  void shortLogIsReturnedWhole() throws IOException {
    Files.writeString(log, numbered(1, 5));

    SidecarDiagnosis.Result.Tail t = assertInstanceOf(SidecarDiagnosis.Result.Tail.class, read());

    assertEquals(expected(1, 5), t.lines());
    assertFalse(t.truncated());
  }

  @Test
  void emptyLogHasNoLines() throws IOException {
    Files.writeString(log, "");

    assertEquals(List.of(), lines(read()));
  }

  @Test
  void twoGigabyteLogCostsOnlyItsTail() throws IOException {
    // Sparse: 2 GiB long, a few kilobytes on disk. Reading it whole would not even fit in a Java array.
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
      f.setLength(2L * 1024 * 1024 * 1024);
    }
    Files.writeString(log, "\n" + numbered(1, 5000), StandardOpenOption.APPEND);

    SidecarDiagnosis.Result.Tail t = assertInstanceOf(SidecarDiagnosis.Result.Tail.class, read());

    assertEquals(expected(4981, 5000), t.lines());
  }

  @Test
  void windowCuttingALineDropsTheFragmentSoNoPieceOfASecretLeaks() throws IOException {
    String secret = "vm-join-0123456789abcdef";
    // The 64-byte window starts inside the secret: a fragment like "9abcdef" matches no pattern and no secret.
    String last = "line after\n";
    Files.writeString(log, "token=" + secret + "\n" + last);
    int window = last.length() + 10;

    SidecarDiagnosis.Result.Tail t = assertInstanceOf(SidecarDiagnosis.Result.Tail.class,
        new SidecarDiagnosis(new RootFs(root), 20, window).lastLines(Set.of(secret)));

    assertEquals(List.of("line after"), t.lines());
    assertTrue(t.truncated());
  }

  @Test
  void lineLongerThanTheWindowGivesNothingRatherThanAFragment() throws IOException {
    Files.writeString(log, "x".repeat(100_000));

    assertEquals(List.of(), lines(read()));
  }

  @Test
  void crlfLineEndsAreStripped() throws IOException {
    Files.writeString(log, "first\r\nsecond\r\n");

    assertEquals(List.of("first", "second"), lines(read()));
  }

  @Test
  void lastLineWithoutNewlineIsIncluded() throws IOException {
    Files.writeString(log, "first\nsecond");

    assertEquals(List.of("first", "second"), lines(read()));
  }

  @Test
  void invalidUtf8BecomesReplacementCharactersAndTheRestSurvives() throws IOException {
    byte[] bad = {'b', 'a', 'd', ' ', (byte) 0xff, (byte) 0xfe, ' ', (byte) 0xc3, '\n'};
    Files.write(log, concat("before\n".getBytes(StandardCharsets.UTF_8), bad,
        "after é\n".getBytes(StandardCharsets.UTF_8)));

    assertEquals(List.of("before", "bad \uFFFD\uFFFD \uFFFD", "after é"), lines(read()));
  }

  @Test
  void terminalEscapesAndControlCharactersAreNeutralised() throws IOException {
    Files.writeString(log, "\u001b[31mred\u001b[0m\tend\u0007\n");

    assertEquals(List.of("?[31mred?[0m\tend?"), lines(read()));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      jwt alone           | token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig-_1 rejected  | token [REDACTED] rejected
      jwt without a sig   | bad jwt eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. here          | bad jwt [REDACTED] here
      bearer              | sent Bearer abc.def-123 to istiod                          | sent Bearer [REDACTED] to istiod
      bearer lower case   | header bearer abc123                                       | header bearer [REDACTED]
      authorization basic | Authorization: Basic dXNlcjpwYXNz                          | Authorization: [REDACTED]
      authorization json  | {"authorization":"Bearer s3cr3t","x":1}                    | {"authorization":"[REDACTED]","x":1}
      authorization go    | map[Authorization:[Token abc]]                             | map[Authorization:[[REDACTED]]]
      authorization eq    | authorization=opaque-value next                            | authorization=[REDACTED] next
      nothing secret      | warn envoy config: gRPC config stream closed: 14, no healthy upstream | warn envoy config: gRPC config stream closed: 14, no healthy upstream
      """)
  void redactsTokenShapedText(String name, String line, String expected) throws IOException {
    Files.writeString(log, line + "\n");

    assertEquals(List.of(expected), lines(read()));
  }

  @Test
  void redactsAServiceAccountTokenInAWholeLogLine() throws IOException {
    Files.writeString(log, "2030-01-01T00:00:00Z error citadelclient token " + JWT + " rejected\n");

    List<String> l = lines(read());

    assertEquals(List.of("2030-01-01T00:00:00Z error citadelclient token [REDACTED] rejected"), l);
  }

  @Test
  void redactsExactSecretsGivenByTheCallerLongestFirst() throws IOException {
    Files.writeString(log, "join vm-join-abc and vm-join-abcdef; other text\n");

    List<String> l = lines(new SidecarDiagnosis(new RootFs(root))
        .lastLines(List.of("vm-join-abc", "vm-join-abcdef", "")));

    assertEquals(List.of("join [REDACTED] and [REDACTED]; other text"), l);
  }

  @Test
  void redactsBeforeCuttingALongLineSoNoPrefixOfASecretSurvives() throws IOException {
    String secret = "S".repeat(100);
    String line = "x".repeat(SidecarDiagnosis.MAX_LINE_CHARS - 50) + secret;
    Files.writeString(log, line + "\n");

    String out = lines(new SidecarDiagnosis(new RootFs(root)).lastLines(Set.of(secret))).get(0);

    assertFalse(out.contains("SSSS"), out);
    assertTrue(out.endsWith("[REDACTED]"), out);
  }

  @Test
  void logReachedThroughASymlinkUnderTheRootIsRead() throws IOException {
    Files.delete(log.getParent());
    Path real = Files.createDirectories(root.resolve("data/istio-logs"));
    Files.createSymbolicLink(log.getParent(), Path.of("/data/istio-logs"));
    Files.writeString(real.resolve("istio.err.log"), "via the link\n");

    assertEquals(List.of("via the link"), lines(read()));
  }

  private static byte[] concat(byte[]... parts) {
    List<Byte> all = new ArrayList<>();
    for (byte[] p : parts) {
      for (byte b : p) {
        all.add(b);
      }
    }
    byte[] out = new byte[all.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = all.get(i);
    }
    return out;
  }
}
