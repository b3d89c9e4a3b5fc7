package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.cli.Main;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.daemon.AgentDaemon;
import io.istiovmagent.daemon.DaemonHarness;
import io.istiovmagent.daemon.SidecarSupervisor;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.report.Reporter;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.source.BundleSources;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.UnixDatagramReceiver;
import io.istiovmagent.testing.FakeSystemd;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * No secret ever leaves the agent or the endpoint through what they print, store or send for people to read.
 *
 * <p>The main scenarios run with a recognisable join token and a recognisable istio-token ({@link Canaries}) that
 * pass every check, and every output is scanned for any trace of them: the stdout and stderr of each CLI command,
 * the daemon's log and its systemd STATUS= lines, {@code status} (text and --json), status.json, the health reports
 * as the endpoint received them (its --reports JSON lines and GET /v1/vms), the endpoint's own log, and the message
 * and stack trace of every exception a caller could print. Each scenario first checks that the secrets were really
 * in play (the server saw the bearer token, the token was installed), so a clean scan means something.
 */
class SecretsLeakTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final HeldCertificate CA = TestTls.newCa("secrets test CA");
  private static final HeldCertificate SERVER_CERT = TestTls.serverCert(CA, "localhost");
  private static final String PATH = "/v1/bundle/vm-namespace/hello-vm";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private final Canaries canaries = new Canaries();
  private final List<AutoCloseable> closeAtEnd = new ArrayList<>();
  private Path caFile;
  private Path tokenFile;
  private int files;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void credentials() throws IOException {
    caFile = TestTls.writeCaPem(tmp, CA);
    tokenFile = privateFile(tmp.resolve("join-token"), canaries.joinToken + "\n");
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeAtEnd) {
      c.close();
    }
  }

  // --- the CLI ---

  @Test
  void applyAndVerifyOverHttpsPrintNeitherToken() throws Exception {
    Instant now = Instant.now();
    String token = canaries.istioToken(now, Duration.ofHours(1));
    List<String> authorizations = new CopyOnWriteArrayList<>();
    MockWebServer server = bundleServer(authorizations, r -> gzip(Canaries.bundleWith(token, now)));
    Path config = config("bundle:\n  source: " + url(server) + "\n  caFile: " + caFile + "\n  tokenFile: "
        + tokenFile + "\n");
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);

    scan("bundle verify (https)", expect(0, cli("--config", config.toString(), "bundle", "verify", url(server))));
    scan("apply (https)", expect(0, cli("--root", root.toString(), "--config", config.toString(), "apply")));
    scan("apply again (https, unchanged)", expect(0, cli("--root", root.toString(), "--config", config.toString(),
        "apply")));
    scan("status (no daemon)", cli("--root", root.toString(), "--config", config.toString(), "status"));

    assertTrue(authorizations.size() >= 3 && authorizations.stream().allMatch(("Bearer " + canaries.joinToken)::equals),
        "precondition: every request carried the join token: " + authorizations.size());
    assertEquals(token, Files.readString(root.resolve("var/run/secrets/tokens/istio-token")).strip(),
        "precondition: the canary istio-token was installed");
    canaries.assertNoLeaks();
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {401, 403})
  void aRejectedJoinTokenIsNotPrinted(int code) throws Exception {
    List<String> authorizations = new CopyOnWriteArrayList<>();
    MockWebServer server = bundleServer(authorizations, r -> new MockResponse.Builder().code(code)
        .body("{\"error\":\"unknown join token\"}").build());
    Path config = config("bundle:\n  caFile: " + caFile + "\n  tokenFile: " + tokenFile + "\n");
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);

    Run apply = expect(69, cli("--root", root.toString(), "--config", config.toString(), "apply", url(server)));
    assertTrue(apply.err().contains("credential rejected (HTTP " + code + ")"), apply.err());
    scan("apply rejected with " + code, apply);
    scan("bundle verify rejected with " + code, expect(69, cli("--config", config.toString(), "bundle", "verify",
        url(server))));
    SourceException e = assertThrows(SourceException.class, () -> BundleSources.open(url(server),
        new BundleSources.Transport(Optional.of(caFile), Optional.of(tokenFile), Duration.ofSeconds(5), "test",
            Clock.systemUTC())).fetch());
    canaries.scanThrowable("SourceException for HTTP " + code, e);

    assertEquals("Bearer " + canaries.joinToken, authorizations.get(0), "precondition: the join token was sent");
    canaries.assertNoLeaks();
  }

  /**
   * Bundles whose token is refused (expired, another audience or workload, not yet valid, unsigned, malformed) or
   * that hold the token in the wrong file: the problems name files, rules and claims, never the token.
   */
  @Test
  void refusedTokensAreNamedNeverPrinted() throws Exception {
    Instant now = Instant.now();
    String sub = "system:serviceaccount:vm-namespace:vm-sa";
    String aud = "[\"istio-ca\"]";
    Map<String, Map<BundleFile, byte[]>> cases = new LinkedHashMap<>();
    cases.put("expired token", Canaries.bundleWith(canaries.istioToken("ES256", aud, sub, now.minusSeconds(7200),
        now.minusSeconds(7200), now.minusSeconds(3600)), now));
    cases.put("token for another audience", Canaries.bundleWith(canaries.istioToken("ES256", "[\"api\"]", sub,
        now, now, now.plusSeconds(3600)), now));
    cases.put("token for another workload", Canaries.bundleWith(canaries.istioToken("ES256", aud,
        "system:serviceaccount:other-ns:other-sa", now, now, now.plusSeconds(3600)), now));
    cases.put("token not yet valid", Canaries.bundleWith(canaries.istioToken("ES256", aud, sub, now,
        now.plusSeconds(7200), now.plusSeconds(9000)), now));
    cases.put("unsigned token", Canaries.bundleWith(canaries.istioToken("none", aud, sub, now, now,
        now.plusSeconds(3600)), now));
    String valid = canaries.istioToken(now, Duration.ofHours(1));
    String[] parts = valid.split("\\.");
    cases.put("payload not JSON", Canaries.bundleWith(canaries.register(parts[0] + "."
        + Base64.getUrlEncoder().withoutPadding().encodeToString(Canaries.utf8("CLAIMCANARY-"
            + Canaries.hex(8) + " not json")) + "." + parts[2]), now));
    cases.put("two parts only", Canaries.bundleWith(canaries.register(parts[0] + "." + parts[2]), now));
    cases.put("token and a second line", Canaries.bundleWith(valid + "\nSIGCANARY" + Canaries.hex(20), now));
    for (BundleFile wrong : new BundleFile[] {BundleFile.HOSTS, BundleFile.MESH, BundleFile.CLUSTER_ENV,
        BundleFile.ROOT_CERT}) {
      Map<BundleFile, byte[]> files = Canaries.bundleWith(valid, now);
      files.put(wrong, Canaries.utf8(valid + "\n"));
      cases.put("token in " + wrong.fileName(), files);
    }

    AtomicReference<Map<BundleFile, byte[]>> serving = new AtomicReference<>();
    List<String> authorizations = new CopyOnWriteArrayList<>();
    MockWebServer server = bundleServer(authorizations, r -> gzip(serving.get()));
    Path config = config("bundle:\n  caFile: " + caFile + "\n  tokenFile: " + tokenFile + "\n");
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    BundleVerifier verifier = new BundleVerifier(Clock.systemUTC(), Set.of());
    for (Map.Entry<String, Map<BundleFile, byte[]>> c : cases.entrySet()) {
      String what = c.getKey();
      scan("bundle verify DIR, " + what, expect(65, cli("bundle", "verify", bundleDir(c.getValue()).toString())));
      scan("bundle verify .tar.gz, " + what, expect(65, cli("bundle", "verify", bundleTar(c.getValue()).toString())));
      serving.set(c.getValue());
      scan("apply https, " + what, expect(65, cli("--root", root.toString(), "--config", config.toString(), "apply",
          url(server))));
      BadBundleException e = assertThrows(BadBundleException.class, () -> verifier.verify(new RawBundle(c.getValue())));
      canaries.scanThrowable("BadBundleException, " + what, e);
      StringBuilder problems = new StringBuilder();
      for (Problem p : e.problems()) {
        problems.append(p.format()).append('\n').append(p).append('\n');
      }
      canaries.scan("problems, " + what, problems.toString());
      try {
        VerifiedBundle restored = verifier.verifyForRestore(new RawBundle(c.getValue()));
        StringBuilder warnings = new StringBuilder(String.valueOf(restored)).append('\n');
        restored.warnings().forEach(w -> warnings.append(w.format()).append('\n'));
        canaries.scan("restore warnings, " + what, warnings.toString());
      } catch (BadBundleException refusedOnRestoreToo) {
        canaries.scanThrowable("BadBundleException on restore, " + what, refusedOnRestoreToo);
      }
    }
    assertFalse(Files.exists(root.resolve("var/run/secrets/tokens/istio-token")), "nothing was installed");
    assertEquals(cases.size(), authorizations.size());
    canaries.assertNoLeaks();
  }

  /** Mistakes in the configuration around the token file: the messages name the file and the fix, not the token. */
  @Test
  void configurationErrorsAboutTheTokenFileDoNotPrintTheToken() throws Exception {
    List<String> authorizations = new CopyOnWriteArrayList<>();
    Instant now = Instant.now();
    String token = canaries.istioToken(now, Duration.ofHours(1));
    MockWebServer server = bundleServer(authorizations, r -> gzip(Canaries.bundleWith(token, now)));
    String join = canaries.joinToken;
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("token file readable by others", tokenFileConfig(file("rw-r--r--", join + "\n")));
    cases.put("token file readable by the group", tokenFileConfig(file("rw-r-----", join + "\n")));
    cases.put("token file holding 'Bearer TOKEN'", tokenFileConfig(file("rw-------", "Bearer " + join + "\n")));
    cases.put("token file holding two lines", tokenFileConfig(file("rw-------", join + "\n" + join + "\n")));
    cases.put("token file too large", tokenFileConfig(file("rw-------", join.repeat(17 * 1024 / join.length()))));
    cases.put("token file empty", tokenFileConfig(file("rw-------", "\n")));
    cases.put("token file missing", tokenFileConfig(tmp.resolve("no-such-token").toString()));
    cases.put("token file is a directory", tokenFileConfig(Files.createDirectories(tmp.resolve("token-dir"))
        .toString()));
    cases.put("the token itself as tokenFile", tokenFileConfig(join));
    cases.put("token inline (unknown key)", "bundle:\n  token: " + join + "\n");
    cases.put("tokenFile as a list", "bundle:\n  tokenFile: [" + join + "]\n");
    cases.put("tokenFile as a mapping", "bundle:\n  tokenFile: {" + join + ": x}\n");
    cases.put("YAML error on the tokenFile line", "bundle:\n  tokenFile: \"" + join + "\n  caFile: x\n");
    cases.put("YAML error after the token", "bundle:\n  tokenFile: /x\n  " + join + "\n  caFile: y\n");
    cases.put("token in the source URL's query", "bundle:\n  source: " + url(server) + "?token=" + join
        + "\n  caFile: " + caFile + "\n");
    cases.put("token as the source URL's password", "bundle:\n  source: https://vm:" + join + "@localhost:"
        + server.getPort() + PATH + "\n  caFile: " + caFile + "\n");
    cases.put("token as a plain http source's password", "bundle:\n  source: http://vm:" + join + "@localhost:"
        + server.getPort() + PATH + "\n");
    cases.put("token in a plain http source's query", "bundle:\n  source: http://localhost:" + server.getPort()
        + PATH + "?token=" + join + "\n");
    cases.put("token in a malformed source URL", "bundle:\n  source: \"https://local host/?t=" + join + "\"\n");
    cases.put("token as the report URL's password", "report:\n  url: http://vm:" + join + "@localhost/v1/health\n");

    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    for (Map.Entry<String, String> c : cases.entrySet()) {
      Path config = config(c.getValue());
      Run apply = cli("--root", root.toString(), "--config", config.toString(), "apply");
      assertTrue(apply.code() != 0 || c.getKey().contains("query"), c.getKey() + ": " + apply);
      scan("apply, " + c.getKey(), apply);
      scan("status, " + c.getKey(), cli("--root", root.toString(), "--config", config.toString(), "status"));
      try {
        ConfigLoader.load(config);
      } catch (ConfigException e) {
        canaries.scanThrowable("ConfigException, " + c.getKey(), e);
      }
    }
    Path loose = Path.of(file("rw-r--r--", join + "\n"));
    SourceConfigException e = assertThrows(SourceConfigException.class, () -> BundleSources.open(url(server),
        new BundleSources.Transport(Optional.of(caFile), Optional.of(loose), Duration.ofSeconds(5), "test",
            Clock.systemUTC())));
    assertTrue(e.getMessage().contains("run: chmod 600 " + loose), e.getMessage());
    canaries.scanThrowable("SourceConfigException for a loose token file", e);
    canaries.assertNoLeaks();
  }

  // --- the daemon ---

  /**
   * The real daemon loop through failing fetches (503, a rejected join token, TLS refused for a hostname mismatch
   * and an untrusted CA), refused bundles (another audience; an expired refresh), an unusable token file, a report
   * URL with a credential in it, a restart that restores an expired last-known-good, and a stop.
   */
  @Test
  void theDaemonNeverLogsOrStoresTheTokensWhateverGoesWrong() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp.resolve("daemon"))) {
      List<String> authorizations = new CopyOnWriteArrayList<>();
      AtomicReference<MockResponse> answer = new AtomicReference<>(new MockResponse.Builder().code(503)
          .addHeader("Retry-After", "1").build());
      h.respond.set(r -> {
        authorizations.add(String.valueOf(r.getHeaders().get("Authorization")));
        return answer.get();
      });
      Path harnessCa = TestTls.writeCaPem(tmp, DaemonHarness.CA);
      String good = "bundle:\n  source: " + h.url() + "\n  caFile: " + harnessCa + "\n  tokenFile: " + tokenFile
          + "\n  backoffCap: 1s\nsidecar:\n  manage: false\n";
      h.writeConfig(good);
      List<String> notify = new ArrayList<>();
      h.start();

      step(h, notify, "503", () -> lastError(h, "HTTP 503"));
      answer.set(new MockResponse.Builder().code(401).build());
      h.daemon.requestReload();
      step(h, notify, "401", () -> lastError(h, "credential rejected (HTTP 401)"));

      Instant now = Instant.now();
      answer.set(gzip(Canaries.bundleWith(canaries.istioToken("ES256", "[\"api\"]",
          "system:serviceaccount:vm-namespace:vm-sa", now, now, now.plusSeconds(3600)), now)));
      h.daemon.requestReload();
      step(h, notify, "bundle refused (audience)", () -> lastError(h, "token-audience"));

      String installed = canaries.istioToken(now, Duration.ofHours(1));
      answer.set(gzip(Canaries.bundleWith(installed, now)));
      h.daemon.requestReload();
      step(h, notify, "bundle installed", () -> Files.exists(h.token()) && readOrEmpty(h.token()).strip()
          .equals(installed));

      answer.set(gzip(Canaries.bundleWith(canaries.istioToken("ES256", "[\"istio-ca\"]",
          "system:serviceaccount:vm-namespace:vm-sa", now.minusSeconds(7200), now.minusSeconds(7200),
          now.minusSeconds(60)), now)));
      h.daemon.requestReload();
      step(h, notify, "refresh refused (expired)", () -> lastError(h, "token-expired"));

      // TLS: the certificate names localhost, not 127.0.0.1; then a CA file of somebody else's CA.
      h.writeConfig(good.replace("https://localhost:", "https://127.0.0.1:"));
      step(h, notify, "TLS hostname mismatch", () -> lastError(h, "hostname mismatch"));
      h.writeConfig(good.replace(harnessCa.toString(), TestTls.writeCaPem(tmp, TestTls.newCa("another CA")).toString()));
      step(h, notify, "TLS untrusted CA", () -> lastError(h, "not signed by a trusted CA"));

      // An unusable token file, and a report URL carrying a credential of its own.
      Path loose = Path.of(file("rw-r--r--", canaries.joinToken + "\n"));
      h.writeConfig(good.replace(tokenFile.toString(), loose.toString()) + "report:\n  url: https://localhost:"
          + h.server.getPort() + "/v1/health\n");
      step(h, notify, "token file refused", () -> lastError(h, "chmod 600"));
      h.writeConfig(good + "report:\n  url: https://vm:" + canaries.anotherJoinToken() + "@localhost:"
          + h.server.getPort() + "/v1/health\n");
      step(h, notify, "report URL with a password", () -> h.logs().contains("'report.url'"));
      h.writeConfig(good + "report:\n  url: https://localhost:" + h.server.getPort() + "/v1/health?join="
          + canaries.anotherJoinToken() + "\n");
      step(h, notify, "report URL with a token in its query", () -> h.logs().contains("reporting health to")
          && h.status().report() != null);

      h.stop();
      snapshot(h, notify, "stopped");
      // Two hours later (by the daemon's clock): the last-known-good token has expired, and is restored anyway.
      h.clock = Clock.offset(Clock.systemUTC(), Duration.ofHours(2));
      h.writeConfig(good);
      h.start();
      step(h, notify, "restored an expired last-known-good", () -> h.logs().contains("last-known-good: istio-token"));
      h.stop();

      canaries.scan("daemon log", h.logs());
      canaries.scan("systemd notifications", String.join("\n", drain(h, notify)));
      assertTrue(authorizations.stream().anyMatch(("Bearer " + canaries.joinToken)::equals),
          "precondition: the join token was sent");
      canaries.assertNoLeaks();
    }
  }

  /**
   * The real endpoint and the real daemon: a wrong and another group's join token refused (401, 403), onboarding,
   * reports, a crash-looping sidecar whose istio.err.log holds the istio-token (the diagnosis travels to the status,
   * the log and the endpoint), and the STOPPING report.
   */
  @Test
  void onboardingReportingACrashLoopAndStoppingLeakNothing() throws Exception {
    Instant now = Instant.now();
    String token = canaries.istioToken(now, Duration.ofHours(1));
    Path bundles = Files.createDirectories(tmp.resolve("bundles/vm-namespace/hello-vm"));
    for (Map.Entry<BundleFile, byte[]> e : Canaries.bundleWith(token, now).entrySet()) {
      Files.write(bundles.resolve(e.getKey().fileName()), e.getValue());
    }
    String otherGroup = canaries.anotherJoinToken();
    Path tokens = privateFile(tmp.resolve("tokens.yaml"), "tokens:\n  - token: " + canaries.joinToken
        + "\n    namespace: vm-namespace\n    group: hello-vm\n  - token: " + otherGroup
        + "\n    namespace: vm-namespace\n    group: other-vm\n  - token: " + canaries.adminToken + "\n    admin: true\n");
    ByteArrayOutputStream endpointLog = new ByteArrayOutputStream();
    ServerTls tls = ServerTls.selfSigned(Clock.systemUTC(), List.of());
    Path endpointCa = Files.writeString(tmp.resolve("endpoint.pem"), tls.certificatePem());
    Path reports = tmp.resolve("reports.jsonl");
    OnboardingServer server = OnboardingServer.builder()
        .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).tls(tls).bundles(tmp.resolve("bundles"))
        .tokens(tokens).reports(reports).clock(Clock.systemUTC())
        .log(new Log(new PrintStream(endpointLog, true, StandardCharsets.UTF_8), true)).build();
    server.start();
    closeAtEnd.add(server::stop);
    String base = "https://localhost:" + server.port();

    // A wrong join token and another group's, through the CLI.
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Path wrongFile = privateFile(tmp.resolve("wrong-token"), canaries.anotherJoinToken() + "\n");
    Path otherFile = privateFile(tmp.resolve("other-token"), otherGroup + "\n");
    for (Path f : List.of(wrongFile, otherFile)) {
      Path config = config("bundle:\n  caFile: " + endpointCa + "\n  tokenFile: " + f + "\n");
      Run r = expect(69, cli("--root", root.toString(), "--config", config.toString(), "apply", base + PATH));
      assertTrue(r.err().contains(f == wrongFile ? "HTTP 401" : "HTTP 403"), r.err());
      scan("apply against the endpoint with " + (f == wrongFile ? "a wrong" : "another group's") + " token", r);
    }

    // The daemon onboards and reports.
    Files.writeString(root.resolve("etc/machine-id"), "5f0c6d1e000040008000000000000001\n");
    Files.writeString(root.resolve("etc/hostname"), "vm-secrets\n");
    MockWebServer envoy = TestTls.startPlain();
    closeAtEnd.add(envoy);
    envoy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        return new MockResponse.Builder().code(200).build();
      }
    });
    Path configPath = root.resolve("etc/istio-vm-agent/config.yaml");
    Files.createDirectories(configPath.getParent());
    Files.writeString(configPath, "bundle:\n  source: " + base + PATH + "\n  caFile: " + endpointCa + "\n  tokenFile: "
        + tokenFile + "\n  backoffCap: 2s\nreport:\n  url: " + base + "/v1/health\n  interval: 60s\n"
        + "sidecar:\n  readinessUrl: http://127.0.0.1:" + envoy.getPort() + "/healthz/ready\n");
    FakeSystemd systemd = new FakeSystemd(100);
    ByteArrayOutputStream agentLog = new ByteArrayOutputStream();
    Path socket = tmp.resolve("notify.sock");
    UnixDatagramReceiver notify = UnixDatagramReceiver.atPath(socket);
    closeAtEnd.add(notify);
    AgentDaemon daemon = new AgentDaemon(new AgentDaemon.Options(new RootFs(root), configPath, Clock.systemUTC(),
        Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString())), Optional.empty(),
        (config, fs, log) -> new SidecarSupervisor(config.unit(), systemd,
            new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs), log),
        host -> List.of(), new SplittableRandom(5),
        new Log(new PrintStream(agentLog, true, StandardCharsets.UTF_8), true), "istio-vm-agent/secrets", "secrets",
        System.nanoTime()));
    Thread thread = new Thread(daemon::run, "agent-secrets");
    thread.start();
    closeAtEnd.add(() -> {
      daemon.requestStop();
      thread.join(10_000);
    });
    OkHttpClient admin = client(endpointCa);
    StringBuilder vms = new StringBuilder();
    awaitVm(admin, server, vms, v -> "HEALTHY".equals(v.path("status").asText()));
    assertEquals(token, Files.readString(root.resolve("var/run/secrets/tokens/istio-token")).strip(),
        "precondition: the canary istio-token was installed");
    StatusFile statusFile = new StatusFile(root.resolve("run/istio-vm-agent"));
    scanStatus("healthy", root, configPath);

    // The sidecar crash-loops; its error log holds the istio-token (and a bearer header carrying it).
    Path errLog = Files.createDirectories(root.resolve("var/log/istio")).resolve("istio.err.log");
    // An earlier token too (pilot-agent read it before the last refresh): no exact match, only its shape tells.
    String earlier = canaries.istioToken(now.minusSeconds(600), Duration.ofHours(1));
    Files.writeString(errLog, "2026-11-25T11:50:00Z warn token " + earlier + " is about to expire\n"
        + "2026-11-25T12:00:00Z info sds token " + token + "\n"
        + "2026-11-25T12:00:00Z error failed to fetch certificate: {\"token\":\"" + token + "\"}\n"
        + "2026-11-25T12:00:00Z debug request headers: Authorization: Bearer " + token + "\n"
        + "2026-11-25T12:00:00Z debug upstream headers: {\"authorization\": \"Bearer " + canaries.joinToken + "\"}\n"
        + "2026-11-25T12:00:01Z critical envoy exited: bootstrap config invalid\n");
    for (int pid = 101; pid <= 104; pid++) {
      long p = pid;
      systemd.set(new ServiceState("loaded", "active", "running", pid, pid - 100, "enabled"));
      await("the agent to see pid " + pid, () -> read(statusFile).map(s -> s.sidecar().mainPid() == p).orElse(false));
    }
    await("the crash loop in the status", () -> read(statusFile).map(s -> s.sidecar().crashLoop()).orElse(false));
    AgentStatus looping = read(statusFile).orElseThrow();
    assertTrue(looping.sidecar().diagnosis().stream().anyMatch(l -> l.contains("bootstrap config invalid")),
        "precondition: the diagnosis was captured: " + looping.sidecar().diagnosis());
    assertTrue(looping.sidecar().diagnosis().stream().anyMatch(l -> l.contains("sds token")),
        "precondition: the lines holding the token were captured: " + looping.sidecar().diagnosis());
    awaitVm(admin, server, vms, v -> "UNHEALTHY".equals(v.path("status").asText()));
    await("the crash loop in a report", () -> readOrEmpty(reports).contains("bootstrap config invalid"));
    scanStatus("crash loop", root, configPath);

    daemon.requestStop();
    thread.join(10_000);
    awaitVm(admin, server, vms, v -> "STOPPING".equals(v.path("status").asText()));
    scanStatus("stopped", root, configPath);

    canaries.scanFile("endpoint --reports JSON lines", reports);
    canaries.scan("GET /v1/vms answers", vms.toString());
    canaries.scan("endpoint log", endpointLog.toString(StandardCharsets.UTF_8));
    canaries.scan("daemon log", agentLog.toString(StandardCharsets.UTF_8));
    assertTrue(agentLog.toString(StandardCharsets.UTF_8).contains("crash-looping"), "the crash loop was logged");
    List<String> messages = new ArrayList<>();
    for (Optional<String> m = notify.poll(); m.isPresent(); m = notify.poll()) {
      messages.add(m.get());
    }
    canaries.scan("systemd notifications", String.join("\n", messages));
    canaries.assertNoLeaks();
  }

  /** The leaks this suite found, each now closed: the exact messages, so a regression names itself. */
  @Test
  void theLeaksThisSuiteFoundStayClosed() throws Exception {
    String join = canaries.joinToken;
    BundleSources.Transport none = new BundleSources.Transport(Optional.empty(), Optional.empty(),
        Duration.ofSeconds(1), "t", Clock.systemUTC());
    // A token in the query of a refused http:// source, or of a source URL that does not parse, was printed whole.
    SourceConfigException plain = assertThrows(SourceConfigException.class,
        () -> BundleSources.open("http://plane.example/v1/bundle/ns/g?token=" + join, none));
    assertTrue(plain.getMessage().contains("plain http:// is refused for http://plane.example/v1/bundle/ns/g?[redacted]"),
        plain.getMessage());
    SourceConfigException malformed = assertThrows(SourceConfigException.class,
        () -> BundleSources.open("https://plane example/v1/bundle?token=" + join + "#" + join, none));
    assertTrue(malformed.getMessage().contains("'https://plane example/v1/bundle?[redacted]' is not a valid"),
        malformed.getMessage());
    // report.url with a password was logged ("reporting health to") and kept in status.json; with a token in its
    // query, status.json kept it too.
    ConfigException userInfo = assertThrows(ConfigException.class, () -> ConfigLoader.parse("config.yaml",
        "report:\n  url: https://vm:" + join + "@plane.example/v1/health\n"));
    assertTrue(userInfo.getMessage().contains("'report.url' carries a user name or password"), userInfo.getMessage());
    assertEquals("https://plane.example/v1/health", Reporter.display(HttpUrl.get(
        "https://vm:" + join + "@plane.example/v1/health?join=" + join + "#" + join)));
    for (Throwable t : List.of(plain, malformed, userInfo)) {
      canaries.scanThrowable("regression", t);
    }
    canaries.assertNoLeaks();
  }

  // --- helpers: scenarios ---

  private void step(DaemonHarness h, List<String> notify, String what, BooleanSupplier done) throws Exception {
    h.await(what, WAIT, done);
    snapshot(h, notify, what);
  }

  /** What an operator would look at now: status.json, `status`, `status --json`. */
  private void snapshot(DaemonHarness h, List<String> notify, String what) throws IOException {
    scanStatus(what, h.root, h.configPath);
    drain(h, notify);
  }

  private void scanStatus(String what, Path root, Path config) throws IOException {
    canaries.scanFile("status.json (" + what + ")", root.resolve("run/istio-vm-agent/status.json"));
    scan("status (" + what + ")", cli("--root", root.toString(), "--config", config.toString(), "status"));
    scan("status --json (" + what + ")", cli("--root", root.toString(), "--config", config.toString(), "status",
        "--json"));
  }

  private static List<String> drain(DaemonHarness h, List<String> into) {
    for (Optional<String> m = h.notify.poll(); m.isPresent(); m = h.notify.poll()) {
      into.add(m.get());
    }
    return into;
  }

  private static boolean lastError(DaemonHarness h, String contains) {
    try {
      AgentStatus s = h.status();
      return s.lastError() != null && s.lastError().message().contains(contains);
    } catch (AssertionError | RuntimeException notYet) {
      return false;
    }
  }

  private static Optional<AgentStatus> read(StatusFile f) {
    try {
      return f.read();
    } catch (IOException | RuntimeException partial) {
      return Optional.empty();
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  private void awaitVm(OkHttpClient admin, OnboardingServer server, StringBuilder seen, Predicate<JsonNode> match)
      throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      try (Response r = admin.newCall(new Request.Builder().url("https://localhost:" + server.port() + "/v1/vms")
          .header("Authorization", "Bearer " + canaries.adminToken).build()).execute()) {
        String body = r.body().string();
        seen.append(body).append('\n');
        if (r.code() == 200) {
          for (JsonNode v : JSON.readTree(body).path("vms")) {
            if (match.test(v)) {
              return;
            }
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no matching VM in /v1/vms; answers so far:\n" + seen);
  }

  private static OkHttpClient client(Path ca) throws Exception {
    X509TrustManager tm = TlsTrust.trustManager(Optional.of(ca));
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {tm}, null);
    return new OkHttpClient.Builder().sslSocketFactory(ctx.getSocketFactory(), tm).build();
  }

  // --- helpers: files, servers, the CLI ---

  private MockWebServer bundleServer(List<String> authorizations,
      Function<RecordedRequest, MockResponse> answer) throws IOException {
    MockWebServer server = TestTls.startHttps(SERVER_CERT, CA);
    closeAtEnd.add(server);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        authorizations.add(String.valueOf(r.getHeaders().get("Authorization")));
        return answer.apply(r);
      }
    });
    return server;
  }

  private static String url(MockWebServer server) {
    return "https://localhost:" + server.getPort() + PATH;
  }

  private static MockResponse gzip(Map<BundleFile, byte[]> files) {
    return new MockResponse.Builder().addHeader("Content-Type", "application/gzip")
        .body(new Buffer().write(TarGzWriter.write(files))).build();
  }

  private String tokenFileConfig(String tokenFilePath) throws IOException {
    return "bundle:\n  source: https://localhost:1" + PATH + "\n  caFile: " + caFile + "\n  tokenFile: "
        + tokenFilePath + "\n";
  }

  private Path config(String yaml) throws IOException {
    return Files.writeString(tmp.resolve("config-" + files++ + ".yaml"), yaml);
  }

  private String file(String perms, String content) throws IOException {
    Path f = tmp.resolve("token-" + files++);
    Files.writeString(f, content, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(perms));
    return f.toString();
  }

  private static Path privateFile(Path f, String content) throws IOException {
    Files.writeString(f, content, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  private Path bundleDir(Map<BundleFile, byte[]> files) throws IOException {
    Path d = Files.createDirectories(tmp.resolve("bundle-" + this.files++));
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(d.resolve(e.getKey().fileName()), e.getValue());
    }
    return d;
  }

  private Path bundleTar(Map<BundleFile, byte[]> files) throws IOException {
    return Files.write(tmp.resolve("bundle-" + this.files++ + ".tar.gz"), TarGzWriter.write(files));
  }

  private static String readOrEmpty(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      return "";
    }
  }

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  private static Run expect(int code, Run r) {
    assertEquals(code, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    return r;
  }

  /** Both streams of a command; at least one must have said something. */
  private void scan(String what, Run r) {
    assertNotNull(r);
    assertFalse(r.out().isEmpty() && r.err().isEmpty(), what + " printed nothing: the scan would prove nothing");
    canaries.scan(what + " stdout", r.out(), false);
    canaries.scan(what + " stderr", r.err(), false);
  }
}
