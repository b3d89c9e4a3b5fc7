package io.istiovmagent.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.ManualClock;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import okhttp3.Headers;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;

/**
 * A real endpoint for tests: a temporary bundle directory with one sample bundle, a token file, a generated
 * certificate, HTTPS on 127.0.0.1 with an ephemeral port, a clock the test moves, and an OkHttp client that trusts
 * exactly the endpoint's certificate.
 */
final class ServerFixture implements AutoCloseable {
  static final String NS = "vm-namespace";
  static final String GROUP = "hello-vm";
  /** Join tokens as an operator would generate them; long enough to be unmistakable in a file or a log. */
  static final String TOKEN = "jt-hello-vm-5b1f0c39a7d24e6f8c0e2a4b6d8f1a3c";
  static final String OTHER_TOKEN = "jt-other-vm-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
  static final String UNBUILT_TOKEN = "jt-not-yet-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";
  static final String ADMIN_TOKEN = "jt-admin-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  static final Instant START = Instant.parse("2026-11-25T12:00:00Z");

  static final String TOKENS_YAML = "tokens:\n"
      + "  - token: " + TOKEN + "\n    namespace: " + NS + "\n    group: " + GROUP + "\n"
      + "  - token: " + OTHER_TOKEN + "\n    namespace: " + NS + "\n    group: other-vm\n"
      + "  - token: " + UNBUILT_TOKEN + "\n    namespace: " + NS + "\n    group: not-yet\n"
      + "  - token: " + ADMIN_TOKEN + "\n    admin: true\n";

  /** One answer, read whole. */
  record Reply(int code, Headers headers, byte[] body) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    JsonNode json() throws IOException {
      return new ObjectMapper().readTree(body);
    }

    String header(String name) {
      return headers.get(name);
    }
  }

  static final MediaType JSON = MediaType.get("application/json");

  final Path tmp;
  final Path bundles;
  final Path tokensFile;
  final Path reports;
  final ManualClock clock = new ManualClock(START);
  final Map<BundleFile, byte[]> files;
  private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
  final OnboardingServer server;
  final OkHttpClient client;

  private ServerFixture(Path tmp, Consumer<OnboardingServer.Builder> customize) throws Exception {
    this.tmp = tmp;
    bundles = Files.createDirectories(tmp.resolve("bundles"));
    files = SampleBundle.generate(SampleBundle.Spec.defaults(), START);
    writeBundle(bundles.resolve(NS).resolve(GROUP), files);
    tokensFile = tmp.resolve("tokens.yaml");
    writeTokens(TOKENS_YAML);
    reports = tmp.resolve("reports.jsonl");
    ServerTls tls = ServerTls.selfSigned(clock, java.util.List.of());
    OnboardingServer.Builder b = OnboardingServer.builder()
        .listen(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0))
        .tls(tls).bundles(bundles).tokens(tokensFile).reports(reports).clock(clock)
        .log(new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), true))
        .stopGrace(Duration.ofSeconds(2));
    customize.accept(b);
    server = b.build();
    server.start();
    HandshakeCertificates trust = new HandshakeCertificates.Builder()
        .addTrustedCertificate(tls.certificate()).build();
    client = new OkHttpClient.Builder()
        .sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
        .retryOnConnectionFailure(false)
        .callTimeout(20, TimeUnit.SECONDS)
        .build();
  }

  static ServerFixture start(Path tmp) throws Exception {
    return new ServerFixture(tmp, b -> {});
  }

  static ServerFixture start(Path tmp, Consumer<OnboardingServer.Builder> customize) throws Exception {
    return new ServerFixture(tmp, customize);
  }

  static void writeBundle(Path dir, Map<BundleFile, byte[]> files) throws IOException {
    Files.createDirectories(dir);
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(dir.resolve(e.getKey().fileName()), e.getValue());
    }
  }

  void writeTokens(String yaml) throws IOException {
    Path tmpFile = tokensFile.resolveSibling("tokens.yaml.new");
    Files.writeString(tmpFile, yaml);
    Files.setPosixFilePermissions(tmpFile, PosixFilePermissions.fromString("rw-------"));
    Files.move(tmpFile, tokensFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  Path groupDir() {
    return bundles.resolve(NS).resolve(GROUP);
  }

  String url(String path) {
    return server.url() + path;
  }

  Reply get(String path, String token, String... headerPairs) throws IOException {
    Request.Builder r = new Request.Builder().url(url(path));
    auth(r, token);
    for (int i = 0; i < headerPairs.length; i += 2) {
      r.header(headerPairs[i], headerPairs[i + 1]);
    }
    return call(r.build());
  }

  Reply post(String path, String token, String body) throws IOException {
    Request.Builder r = new Request.Builder().url(url(path)).post(RequestBody.create(body, JSON));
    auth(r, token);
    return call(r.build());
  }

  Reply call(Request request) throws IOException {
    try (Response resp = client.newCall(request).execute()) {
      return new Reply(resp.code(), resp.headers(), resp.body().bytes());
    }
  }

  private static void auth(Request.Builder r, String token) {
    if (token != null) {
      r.header("Authorization", "Bearer " + token);
    }
  }

  /** A TLS socket to the endpoint trusting its certificate, for requests sent byte by byte as a test wants them. */
  javax.net.ssl.SSLSocket rawSocket() throws Exception {
    HandshakeCertificates trust = new HandshakeCertificates.Builder()
        .addTrustedCertificate(server.tls().certificate()).build();
    javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
    ctx.init(null, new javax.net.ssl.TrustManager[] {trust.trustManager()}, null);
    return (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", server.port());
  }

  /** What the endpoint logged so far. */
  String log() {
    return logBytes.toString(StandardCharsets.UTF_8);
  }

  /** A valid report for the fixture's group, with the fields a test changes. */
  static String report(String machineId, String status, long sequence, String bundleRevision) {
    return "{\"protocol\":1,\"status\":\"" + status + "\",\"reasons\":[],\"observedAt\":\"2026-11-25T12:00:01Z\","
        + "\"sequence\":" + sequence + ","
        + "\"agent\":{\"version\":\"0.1.0\",\"startedAt\":\"2026-11-25T11:58:00Z\",\"heartbeatSeconds\":60},"
        + "\"host\":{\"hostname\":\"vm-1\",\"machineId\":\"" + machineId + "\",\"addresses\":[\"10.0.0.7\"]},"
        + "\"workload\":{\"namespace\":\"" + NS + "\",\"serviceAccount\":\"vm-sa\",\"group\":\"" + GROUP + "\","
        + "\"clusterId\":\"Kubernetes\",\"network\":null},"
        + "\"bundle\":{\"revision\":" + (bundleRevision == null ? "null" : "\"" + bundleRevision + "\"") + ","
        + "\"source\":\"https://onboarding.example:8443/v1/bundle/vm-namespace/hello-vm\","
        + "\"fetchedAt\":\"2026-11-25T11:58:01Z\",\"tokenExpiresAt\":\"2026-11-25T12:58:01Z\","
        + "\"rootCertExpiresAt\":\"2036-11-21T00:00:00Z\"},"
        + "\"sidecar\":{\"state\":\"active/running\",\"ready\":true,\"restarts\":0,\"mainPid\":812,"
        + "\"crashLoop\":false,\"diagnosis\":[]},\"transitions\":[]}";
  }

  @Override
  public void close() {
    server.stop();
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }
}
