package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.cli.Main;
import io.istiovmagent.daemon.DaemonHarness;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Modes;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The join-token file must be readable by its owner only (0600 or stricter), judged on the file that is read (a
 * symbolic link by its target); anything else is refused before any connection, with a message that says what to
 * run, and running it is enough. Through the CLI (`apply`) and the daemon (status and log), as a user meets it.
 * HttpsSourceTest and HttpsSourceRegressionTest hold the unit-level cases (0644, a symlink) this extends.
 */
class JoinTokenFileTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final HeldCertificate CA = TestTls.newCa("token file test CA");
  private static final String JOIN = "join-token-file-test-" + Canaries.hex(8);

  @TempDir
  Path tmp;

  private MockWebServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private Path caFile;
  private Path root;

  @BeforeEach
  void serveABundle() throws IOException {
    server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        requests.incrementAndGet();
        if (!("Bearer " + JOIN).equals(r.getHeaders().get("Authorization"))) {
          return new MockResponse.Builder().code(401).build();
        }
        Map<BundleFile, byte[]> files = SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now());
        return new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(files))).build();
      }
    });
    caFile = TestTls.writeCaPem(tmp, CA);
    root = TestBundles.newRoot(tmp.resolve("root"), true);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"rw-------", "r--------", "rwx------"})
  void ownerOnlyModesAreAccepted(String mode) throws Exception {
    Path token = tokenFile("join-token", mode);
    Run r = apply(token);
    assertEquals(0, r.code(), mode + ": " + r);
    assertEquals(1, requests.get());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"rw-r-----", "rw--w----", "rw---x---", "rw----r--", "rw-----w-", "rw------x", "rw-rw----",
      "rw-r--r--", "rw-rw-rw-", "rwxrwxrwx", "---r-----"})
  void anyGroupOrOtherBitIsRefusedWithTheCommandThatFixesIt(String mode) throws Exception {
    Path token = tokenFile("join-token", mode);
    Run r = apply(token);
    assertEquals(78, r.code(), r.toString());
    assertRefused(r.err(), token, mode);
    assertEquals(0, requests.get(), "refused before any connection");

    runTheAdvice(r.err());
    Run again = apply(token);
    assertEquals(0, again.code(), "after running what the message said: " + again);
  }

  @Test
  void aSymlinkIsJudgedByTheFileItNamesAndTheAdviceWorksThroughIt() throws Exception {
    Path target = tokenFile("real-token", "rw-r--r--");
    Path link = Files.createSymbolicLink(tmp.resolve("token-link"), target);
    Path chain = Files.createSymbolicLink(tmp.resolve("token-link-2"), link);
    for (Path p : new Path[] {link, chain}) {
      Run r = apply(p);
      assertEquals(78, r.code(), r.toString());
      assertRefused(r.err(), p, "rw-r--r--");
    }
    assertEquals(0, requests.get());
    runTheAdvice(apply(chain).err()); // chmod follows the links to the file that is read
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    assertEquals(0, apply(chain).code());
    assertEquals(0, apply(link).code());
  }

  @Test
  void whatIsNotARegularFileIsRefusedWithoutBeingRead() throws Exception {
    Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nothing-here"));
    Path dir = Files.createDirectories(tmp.resolve("token-dir"));
    Path fifo = tmp.resolve("token-fifo");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    Files.setPosixFilePermissions(fifo, PosixFilePermissions.fromString("rw-------"));
    for (Path p : new Path[] {dangling, dir, fifo, tmp.resolve("missing")}) {
      Run r = apply(p); // a FIFO that were opened would block here for ever
      assertEquals(78, r.code(), r.toString());
      assertTrue(r.err().contains("token file " + p + " does not exist or is not a regular file"), r.err());
    }
    assertEquals(0, requests.get());
  }

  /**
   * Regression: a relative tokenFile (most likely the token itself, pasted where its file belongs) was echoed in
   * "token file TOKEN does not exist"; it is now a configuration error that does not repeat the value.
   */
  @Test
  void aRelativeTokenFileIsAConfigurationErrorThatDoesNotRepeatIt() throws Exception {
    Path config = Files.writeString(tmp.resolve("config.yaml"), "bundle:\n  source: " + url() + "\n  caFile: "
        + caFile + "\n  tokenFile: " + JOIN + "\n");
    Run r = cli("--root", root.toString(), "--config", config.toString(), "apply");
    assertEquals(78, r.code(), r.toString());
    assertTrue(r.err().contains("'bundle.tokenFile' must be the absolute path of the file that holds the join token"),
        r.err());
    assertFalse(r.err().contains(JOIN), r.err());
    assertEquals(0, requests.get());
  }

  /**
   * The daemon: a loose token file makes the source unusable and health reporting off, and `status` says what to
   * run (regression: after an earlier fetch failure, status.json kept showing that stale failure instead); fixing
   * the mode and reloading is enough.
   */
  @Test
  void theDaemonRefusesALooseTokenFileAndStatusSaysWhatToRun() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp.resolve("daemon"))) {
      Path token = tokenFile("daemon-token", "rw-------");
      h.sourceDown();
      String config = "bundle:\n  source: " + h.url() + "\n  caFile: " + TestTls.writeCaPem(tmp, DaemonHarness.CA)
          + "\n  tokenFile: " + token + "\n  backoffCap: 1s\nsidecar:\n  manage: false\nreport:\n  url: https://localhost:"
          + h.server.getPort() + "/v1/health\n";
      h.writeConfig(config);
      h.start();
      h.await("the source down in the status", WAIT, () -> lastError(h).contains("HTTP 503"));

      Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r-----"));
      h.daemon.requestReload();
      h.await("the token file refused in the status", WAIT, () -> lastError(h).contains("token file"));
      assertRefused(lastError(h), token, "rw-r-----");
      h.await("the log", WAIT, () -> h.logs().contains("health reporting disabled: token file " + token));
      Run status = cli("--root", h.root.toString(), "status");
      assertRefused(status.out(), token, "rw-r-----");

      runTheAdvice(lastError(h));
      List<String> reportedWith = new CopyOnWriteArrayList<>();
      h.respond.set(r -> {
        if (r.getUrl().encodedPath().equals("/v1/health")) {
          reportedWith.add(String.valueOf(r.getHeaders().get("Authorization")));
          return new MockResponse.Builder().code(200).body("{\"accepted\":true}").build();
        }
        return h.bundleResponse(SampleBundle.Spec.defaults());
      });
      h.daemon.requestReload();
      h.await("the bundle installed after chmod and a reload", WAIT, () -> Files.exists(h.token()));
      h.await("a report with the join token", WAIT, () -> reportedWith.contains("Bearer " + JOIN));

      // Regression: the join token is rotated and the agent reloaded; reports go with the new one, as fetches do.
      String rotated = JOIN + "-rotated";
      Files.writeString(token, rotated + "\n");
      h.daemon.requestReload();
      h.await("a report with the rotated join token", WAIT, () -> reportedWith.contains("Bearer " + rotated));
      assertFalse(h.logs().contains(JOIN));
    }
  }

  // --- helpers ---

  record Run(int code, String out, String err) {}

  private static void assertRefused(String message, Path file, String mode) {
    String octal = Modes.octal(PosixFilePermissions.fromString(mode));
    assertTrue(message.contains("token file " + file + " is accessible to other users (mode " + octal + "); run: "
        + "chmod 600 " + file), message);
    assertFalse(message.contains(JOIN), message);
  }

  /** Runs the command the message gives ("run: chmod 600 FILE"), as an operator would paste it. */
  private static void runTheAdvice(String message) throws Exception {
    int at = message.indexOf("run: ");
    assertTrue(at >= 0, message);
    String command = message.substring(at + 5).lines().findFirst().orElseThrow().strip();
    Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), command + ": " + out);
  }

  private static String lastError(DaemonHarness h) {
    try {
      AgentStatus s = h.status();
      return s.lastError() == null ? "" : s.lastError().message();
    } catch (AssertionError | RuntimeException notYet) {
      return "";
    }
  }

  private Path tokenFile(String name, String mode) throws IOException {
    Path f = Files.writeString(tmp.resolve(name), JOIN + "\n", StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  private String url() {
    return "https://localhost:" + server.getPort() + "/v1/bundle/vm-namespace/hello-vm";
  }

  private Run apply(Path tokenFile) throws IOException {
    Path config = Files.writeString(tmp.resolve("config.yaml"), "bundle:\n  source: " + url() + "\n  caFile: "
        + caFile + "\n  tokenFile: " + tokenFile + "\n");
    return cli("--root", root.toString(), "--config", config.toString(), "apply");
  }

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }
}
