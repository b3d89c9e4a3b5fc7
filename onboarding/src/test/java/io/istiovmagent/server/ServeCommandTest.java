package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.onboarding.OnboardingMain;
import io.istiovmagent.sample.SampleBundle;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `istio-vm-agent serve` as an operator runs it: a real process, real files, SIGTERM to stop. */
class ServeCommandTest {
  private static final Pattern LISTENING = Pattern.compile("<5>onboarding endpoint listening on (https://\\S+) ");
  private static final Pattern FINGERPRINT = Pattern.compile("SHA-256 fingerprint ([0-9A-F:]{95})");
  private static final Pattern METRICS = Pattern.compile("<5>metrics at http://127\\.0\\.0\\.1:(\\d+)/metrics\n");

  @TempDir
  Path tmp;

  @Test
  void servesUntilSigtermThenStopsGracefully() throws Exception {
    Path bundles = Files.createDirectories(tmp.resolve("bundles"));
    ServerFixture.writeBundle(bundles.resolve("vm-namespace").resolve("hello-vm"),
        SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now()));
    Path tokens = tokens();
    Path cert = tmp.resolve("endpoint.pem");
    Path log = tmp.resolve("serve.log");
    Process p = serve(log, "--bundles", bundles.toString(), "--tokens", tokens.toString(), "--listen", "127.0.0.1:0",
        "--write-cert", cert.toString(), "--reports", tmp.resolve("reports.jsonl").toString(), "--max-age", "2m");
    try {
      String url = await(log, LISTENING);
      X509Certificate written = certificate(cert);
      assertEquals(await(log, FINGERPRINT), ServerTlsTest.fingerprint(written), "the logged fingerprint is the "
          + "written certificate's");

      OkHttpClient client = trusting(written);
      try (Response r = client.newCall(new Request.Builder().url(url + "/v1/bundle/vm-namespace/hello-vm")
          .header("Authorization", "Bearer " + ServerFixture.TOKEN).build()).execute()) {
        assertEquals(200, r.code());
        assertEquals("max-age=120", r.header("Cache-Control"));
      }
      client.connectionPool().evictAll();

      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(10, TimeUnit.SECONDS), "serve did not exit within 10 s of SIGTERM");
      assertEquals(143, p.exitValue(), "SIGTERM: 128+15, the JVM's clean exit on that signal");
      String out = Files.readString(log);
      assertTrue(out.contains("<5>stopping on request\n<5>onboarding endpoint stopped\n"), out);
      assertTrue(out.lines().allMatch(l -> l.matches("<[0-7]>.*")), "every line has a journald priority:\n" + out);
      assertFalse(out.contains(ServerFixture.TOKEN), out);
    } finally {
      p.destroyForcibly();
    }
  }

  /** --metrics-listen: Prometheus' text over plain HTTP beside the endpoint, at the address logged. */
  @Test
  void metricsListenServesTheEndpointsFiguresOverPlainHttp() throws Exception {
    Path bundles = Files.createDirectories(tmp.resolve("bundles"));
    ServerFixture.writeBundle(bundles.resolve("vm-namespace").resolve("hello-vm"),
        SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now()));
    Path cert = tmp.resolve("endpoint.pem");
    Path log = tmp.resolve("serve.log");
    Process p = serve(log, "--bundles", bundles.toString(), "--tokens", tokens().toString(), "--listen",
        "127.0.0.1:0", "--write-cert", cert.toString(), "--metrics-listen", "127.0.0.1:0");
    try {
      String url = await(log, LISTENING);
      int port = Integer.parseInt(await(log, METRICS));
      OkHttpClient client = trusting(certificate(cert));
      try (Response r = client.newCall(new Request.Builder().url(url + "/v1/bundle/vm-namespace/hello-vm")
          .header("Authorization", "Bearer " + ServerFixture.TOKEN).build()).execute()) {
        assertEquals(200, r.code());
      }
      client.connectionPool().evictAll();
      String served = "istio_vm_onboarding_requests_total{route=\"/v1/bundle/{namespace}/{group}\",code=\"200\"}";
      Exposition e = Exposition.scrapeUntil(port, x -> x.value(served) == 1);
      assertEquals(1, e.value(served), e.text);
      assertFalse(e.text.contains(ServerFixture.TOKEN), e.text);
      assertEquals(404, Exposition.get(port, "GET", "/v1/vms").statusCode(), "only /metrics on the plain port");
    } finally {
      p.destroyForcibly();
    }
  }

  /** A metrics address already taken stops serve at once with a configuration error that names the flag. */
  @Test
  void aMetricsAddressInUseIsAConfigurationError() throws Exception {
    Path log = tmp.resolve("serve.log");
    try (ServerSocket held = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Process p = serve(log, "--bundles", Files.createDirectories(tmp.resolve("bundles")).toString(), "--tokens",
          tokens().toString(), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:" + held.getLocalPort());
      try {
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "serve did not exit");
        assertEquals(78, p.exitValue());
        String out = Files.readString(log);
        assertTrue(out.contains("<3>cannot listen for metrics on 127.0.0.1:" + held.getLocalPort()) && out.contains(
            "choose another --metrics-listen address or port"), out);
        assertFalse(out.contains("onboarding endpoint listening"), out);
      } finally {
        p.destroyForcibly();
      }
    }
  }

  @Test
  void aMissingBundleDirectoryIsAConfigurationErrorThatSaysWhatToDo() throws Exception {
    Path log = tmp.resolve("serve.log");
    Process p = serve(log, "--bundles", tmp.resolve("nope").toString(), "--tokens", tokens().toString(),
        "--listen", "127.0.0.1:0");
    try {
      assertTrue(p.waitFor(20, TimeUnit.SECONDS));
      assertEquals(78, p.exitValue());
      assertTrue(Files.readString(log).contains("<3>bundle directory " + tmp.resolve("nope")
          + " does not exist or is not a directory; create it"), Files.readString(log));
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void usageErrorsAndHelp() {
    Run help = cli("serve", "--help");
    assertEquals(0, help.code());
    for (String s : new String[] {"--bundles", "--tokens", "--listen", "127.0.0.1:8443", "--cert", "--key",
        "--write-cert", "--reports", "--max-age", "300s", "sha256", "admin: true", "SIGTERM", "fingerprint"}) {
      assertTrue(help.out().contains(s), s + " missing from --help:\n" + help.out());
    }
    Run halfTls = cli("serve", "--bundles", tmp.toString(), "--tokens", "t.yaml", "--cert", "c.pem");
    assertEquals(64, halfTls.code());
    assertTrue(halfTls.err().contains("--cert and --key go together"), halfTls.err());
    Run badListen = cli("serve", "--bundles", tmp.toString(), "--tokens", "t.yaml", "--listen", "8443");
    assertEquals(64, badListen.code());
    assertTrue(badListen.err().contains("is not HOST:PORT"), badListen.err());
    Run badAge = cli("serve", "--bundles", tmp.toString(), "--tokens", "t.yaml", "--max-age", "soon");
    assertEquals(64, badAge.code());
  }

  /** The Kubernetes mode's flags: one source of bundles, a token the API would accept, a kubeconfig that exists. */
  @Test
  void kubernetesModeUsageErrors() {
    Run both = cli("serve", "--bundles", tmp.toString(), "--tokens", "t.yaml", "--kubernetes");
    assertEquals(64, both.code());
    assertTrue(both.err().contains("give --bundles DIR (bundles from a directory of istioctl output) or "
        + "--kubernetes"), both.err());
    Run neither = cli("serve", "--tokens", "t.yaml");
    assertEquals(64, neither.code());
    Run noTokens = cli("serve", "--bundles", tmp.toString());
    assertEquals(64, noTokens.code());
    assertTrue(noTokens.err().contains("--tokens FILE is required with --bundles"), noTokens.err());
    Run shortToken = cli("serve", "--kubernetes", "--token-lifetime", "5m");
    assertEquals(64, shortToken.code());
    assertTrue(shortToken.err().contains("shorter than the Kubernetes API's least, 10m"), shortToken.err());
    Run badGateway = cli("serve", "--kubernetes", "--gateway", "istio-eastwestgateway");
    assertEquals(64, badGateway.code());
    assertTrue(badGateway.err().contains("is not NAMESPACE/NAME"), badGateway.err());
    Run strayFlag = cli("serve", "--bundles", tmp.toString(), "--tokens", "t.yaml", "--cluster-id", "c");
    assertEquals(64, strayFlag.code());
    assertTrue(strayFlag.err().contains("go with --kubernetes"), strayFlag.err());
    Run noConfig = cli("serve", "--kubernetes", "--kubeconfig", tmp.resolve("nope").toString(), "--listen",
        "127.0.0.1:0");
    assertEquals(78, noConfig.code());
  }

  record Run(int code, String out, String err) {}

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = OnboardingMain.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  private static X509Certificate certificate(Path pem) throws Exception {
    return (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
  }

  /** A client that trusts {@code c} alone, as an agent given the written certificate as its CA file does. */
  private static OkHttpClient trusting(X509Certificate c) {
    HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(c).build();
    return new OkHttpClient.Builder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager()).build();
  }

  private Path tokens() throws IOException {
    Path tokens = Files.writeString(tmp.resolve("tokens.yaml"), ServerFixture.TOKENS_YAML);
    Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
    return tokens;
  }

  private static Process serve(Path log, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
        OnboardingMain.class.getName(), "serve"));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits for a line of the process's output, as a person watching the log would; fails after 20 s. */
  private static String await(Path log, Pattern p) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      Matcher m = p.matcher(Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "");
      if (m.find()) {
        return m.group(1);
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no " + p + " in:\n" + (Files.exists(log) ? Files.readString(log) : "(no output)"));
  }
}
