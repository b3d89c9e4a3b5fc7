package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.BundleLimits;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.Bodies;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.Protocol;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link HttpsSource} end to end over real TLS on the loopback interface: a private CA, a server certificate signed
 * by it, and the agent trusting that CA through a PEM file, reached through {@link BundleSources#open} as a user's
 * SOURCE is.
 */
class HttpsSourceTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final String USER_AGENT = "istio-vm-agent/0.1.0-test";
  private static final String PATH = "/bundles/vm-namespace/hello-vm.tar.gz";

  private static final HeldCertificate CA = TestTls.newCa("istio-vm-agent test CA");
  private static final HeldCertificate SERVER_CERT = TestTls.serverCert(CA, "localhost", "127.0.0.1");
  private static final Map<BundleFile, byte[]> FILES = SampleBundle.generate(SampleBundle.Spec.defaults(), NOW);
  private static final byte[] ARCHIVE = TarGzWriter.write(FILES);

  @TempDir Path dir;

  private final List<MockWebServer> servers = new ArrayList<>();
  private final String token = "vm-join-" + randomHex(16);
  private Path caFile;
  private Path tokenFile;

  @BeforeEach
  void writeCaAndTokenFiles() throws IOException {
    caFile = TestTls.writeCaPem(dir, CA);
    tokenFile = writeFile(dir.resolve("join-token"), token + "\n", "rw-------");
  }

  @AfterEach
  void closeServers() {
    servers.forEach(MockWebServer::close);
  }

  // ---- success ----

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = Protocol.class, names = {"HTTP_2", "HTTP_1_1"})
  void fetchesAllFiveFilesAndSendsBearerCredentialFromTokenFile(Protocol protocol) throws Exception {
    MockWebServer server = https(protocol);
    server.enqueue(gzipBody(ARCHIVE));

    RawBundle bundle = open(urlOf(server)).fetch();

    assertEquals(EnumSet.of(BundleFile.CLUSTER_ENV, BundleFile.MESH, BundleFile.ROOT_CERT, BundleFile.TOKEN,
        BundleFile.HOSTS), bundle.files().keySet());
    for (Map.Entry<BundleFile, byte[]> e : FILES.entrySet()) {
      assertArrayEquals(e.getValue(), bundle.file(e.getKey()).orElseThrow(), e.getKey().fileName());
    }
    assertEquals(new RawBundle(FILES).revision(), bundle.revision());

    RecordedRequest request = take(server);
    assertEquals(versionOf(protocol), request.getVersion());
    assertEquals("GET", request.getMethod());
    assertEquals(PATH, request.getUrl().encodedPath());
    assertEquals("Bearer " + token, request.getHeaders().get("Authorization"));
    assertEquals(USER_AGENT, request.getHeaders().get("User-Agent"));
  }

  @Test
  void sendsNoAuthorizationWithoutTokenFileAndRejectionSaysNoneIsConfigured() throws Exception {
    MockWebServer server = https();
    server.enqueue(status(401).build());
    BundleSource source = BundleSources.open(urlOf(server),
        new BundleSources.Transport(Optional.of(caFile), Optional.empty(), TIMEOUT, USER_AGENT, CLOCK));

    SourceException e = assertThrows(SourceException.class, source::fetch);

    assertEquals(SourceException.Kind.CREDENTIAL_REJECTED, e.kind());
    assertContains(e.getMessage(), "(none is configured)");
    assertNull(take(server).getHeaders().get("Authorization"));
  }

  // ---- the credential stays secret ----

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {401, 403, 404, 418, 429, 500, 503})
  void tokenNeverAppearsInFailureMessagesOrToString(int code) throws Exception {
    MockWebServer server = https();
    // A careless server echoes the credential back; the agent must not pass it on.
    server.enqueue(status(code)
        .addHeader("WWW-Authenticate", "Bearer error=\"invalid_token\", token=\"" + token + "\"")
        .addHeader("Retry-After", "1")
        .body("token " + token + " is not valid here")
        .build());
    BundleSource source = open(urlOf(server));

    SourceException e = assertThrows(SourceException.class, source::fetch);

    assertEquals("Bearer " + token, take(server).getHeaders().get("Authorization"),
        "precondition: the secret really was in play");
    assertFalse(stackTrace(e).contains(token), () -> "token leaked: " + stackTrace(e));
    assertFalse(source.toString().contains(token), source::toString);
    assertFalse(source.describe().contains(token), source::describe);
  }

  @Test
  void credentialToStringIsRedacted() throws Exception {
    BearerToken credential = BearerToken.readFile(tokenFile);

    assertEquals("Bearer " + token, credential.headerValue(), "the file's token, stripped of its newline");
    assertFalse(credential.toString().contains(token), credential::toString);
  }

  @Test
  void refusesTokenFileReadableByOthersWithoutFetching() throws Exception {
    MockWebServer server = https();
    server.enqueue(gzipBody(ARCHIVE));
    Path loose = writeFile(dir.resolve("loose-token"), token + "\n", "rw-r--r--");

    SourceConfigException e = assertThrows(SourceConfigException.class, () -> BundleSources.open(urlOf(server),
        new BundleSources.Transport(Optional.of(caFile), Optional.of(loose), TIMEOUT, USER_AGENT, CLOCK)));

    assertContains(e.getMessage(), "(mode 0644)");
    assertContains(e.getMessage(), "chmod 600 " + loose);
    assertFalse(e.getMessage().contains(token), e.getMessage());
    assertEquals(0, server.getRequestCount());
  }

  // ---- HTTP status ----

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {401, 403})
  void rejectedCredentialIsCredentialRejected(int code) throws Exception {
    MockWebServer server = https();
    server.enqueue(status(code).build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.CREDENTIAL_REJECTED, e.kind());
    assertContains(e.getMessage(), "credential rejected (HTTP " + code + ") by " + urlOf(server));
    assertContains(e.getMessage(), "bundle.tokenFile");
    assertEquals(Optional.empty(), e.retryAfter());
  }

  @Test
  void missingBundleIsNotFound() throws Exception {
    MockWebServer server = https();
    server.enqueue(status(404).build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.NOT_FOUND, e.kind());
    assertContains(e.getMessage(), "no bundle at " + urlOf(server) + " (HTTP 404)");
  }

  @Test
  void serviceUnavailableCarriesRetryAfterSeconds() throws Exception {
    MockWebServer server = https();
    server.enqueue(status(503).addHeader("Retry-After", "7").build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.UNAVAILABLE, e.kind());
    assertEquals(Optional.of(Duration.ofSeconds(7)), e.retryAfter());
    assertContains(e.getMessage(), "(HTTP 503, retry after 7s)");
  }

  @Test
  void tooManyRequestsWithHttpDateRetryAfterIsMeasuredFromTheClock() throws Exception {
    MockWebServer server = https();
    // CLOCK stands at 2030-01-01T00:00:00Z, a Tuesday; the server asks for two minutes.
    server.enqueue(status(429).addHeader("Retry-After", "Tue, 01 Jan 2030 00:02:00 GMT").build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.UNAVAILABLE, e.kind());
    assertEquals(Optional.of(Duration.ofMinutes(2)), e.retryAfter());
    assertContains(e.getMessage(), "(HTTP 429, retry after 120s)");
  }

  @Test
  void serverErrorIsUnavailableWithoutRetryAfter() throws Exception {
    MockWebServer server = https();
    server.enqueue(status(500).build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.UNAVAILABLE, e.kind());
    assertEquals(Optional.empty(), e.retryAfter());
    assertContains(e.getMessage(), urlOf(server) + " is unavailable (HTTP 500)");
  }

  // ---- redirects ----

  @Test
  void redirectToPlainHttpIsRefusedAndNeverFollowed() throws Exception {
    MockWebServer plain = plain();
    plain.enqueue(gzipBody(ARCHIVE));
    MockWebServer server = https();
    server.enqueue(status(302).addHeader("Location", "http://localhost:" + plain.getPort() + PATH).build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.PROTOCOL, e.kind());
    assertContains(e.getMessage(), "redirected to http://localhost");
    assertContains(e.getMessage(), "only redirects to https:// are followed");
    assertEquals(1, server.getRequestCount());
    assertEquals(0, plain.getRequestCount());
  }

  @Test
  void redirectToAnotherHttpsHostIsFollowedWithoutTheCredential() throws Exception {
    MockWebServer other = https();
    other.enqueue(gzipBody(ARCHIVE));
    MockWebServer server = https();
    // Same CA, but another host name (127.0.0.1 rather than localhost) and port: the token must stay behind.
    server.enqueue(status(302).addHeader("Location", "https://127.0.0.1:" + other.getPort() + PATH).build());

    RawBundle bundle = open(urlOf(server)).fetch();

    assertEquals(new RawBundle(FILES).revision(), bundle.revision());
    assertEquals("Bearer " + token, take(server).getHeaders().get("Authorization"));
    RecordedRequest redirected = take(other);
    assertNull(redirected.getHeaders().get("Authorization"));
    assertEquals(USER_AGENT, redirected.getHeaders().get("User-Agent"));
  }

  // ---- TLS ----

  @Test
  void serverCertificateFromUntrustedCaIsTlsFailure() throws Exception {
    HeldCertificate otherCa = TestTls.newCa("somebody else's CA");
    MockWebServer server = https(TestTls.serverCert(otherCa, "localhost", "127.0.0.1"), otherCa);
    server.enqueue(gzipBody(ARCHIVE));

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.TLS, e.kind());
    assertContains(e.getMessage(), "not signed by a trusted CA");
    assertContains(e.getMessage(), "--ca-file");
    assertEquals(0, server.getRequestCount(), "no request, and so no credential, goes over an untrusted connection");
  }

  @Test
  void serverCertificateForAnotherHostIsHostnameMismatch() throws Exception {
    MockWebServer server = https(TestTls.serverCert(CA, "wrong.example"), CA);
    server.enqueue(gzipBody(ARCHIVE));

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.TLS, e.kind());
    assertContains(e.getMessage(), "does not name localhost (hostname mismatch)");
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void expiredServerCertificateIsTlsFailureSayingExpired() throws Exception {
    Instant now = Instant.now();
    HeldCertificate expired = TestTls.serverCert(CA, now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)),
        "localhost", "127.0.0.1");
    MockWebServer server = https(expired, CA);
    server.enqueue(gzipBody(ARCHIVE));

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.TLS, e.kind());
    assertContains(e.getMessage(), "the server's certificate has expired");
    assertEquals(0, server.getRequestCount());
  }

  @Test
  void notYetValidServerCertificateIsTlsFailurePointingAtTheClock() throws Exception {
    Instant now = Instant.now();
    HeldCertificate future = TestTls.serverCert(CA, now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(2)),
        "localhost", "127.0.0.1");
    MockWebServer server = https(future, CA);
    server.enqueue(gzipBody(ARCHIVE));

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.TLS, e.kind());
    assertContains(e.getMessage(), "not valid yet (check this machine's clock)");
  }

  // ---- body size and format ----

  @Test
  void declaredContentLengthOverTheLimitIsRefusedBeforeReading() throws Exception {
    long declared = BundleLimits.MAX_TOTAL_BYTES + 1L;
    MockWebServer server = https();
    // Declares one byte too many and sends none of it: only the header can have been judged.
    server.enqueue(status(200).body(new MockResponseBody() {
      @Override
      public long getContentLength() {
        return declared;
      }

      @Override
      public void writeTo(BufferedSink sink) {}
    }).build());

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("size-limit", p.rule());
    assertContains(p.message(), "the response is " + declared + " bytes; the limit is "
        + BundleLimits.MAX_TOTAL_BYTES);
  }

  @Test
  void chunkedBodyOverTheLimitIsRefusedWhileReading() throws Exception {
    MockWebServer server = https(SERVER_CERT, CA, Protocol.HTTP_1_1); // chunked transfer coding is HTTP/1.1's
    server.enqueue(status(200).chunkedBody(zeros(BundleLimits.MAX_TOTAL_BYTES + 1), 64 * 1024).build());

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("size-limit", p.rule());
    assertContains(p.message(), "the response is larger than " + BundleLimits.MAX_TOTAL_BYTES + " bytes");
  }

  @Test
  void chunkedBodyOfExactlyTheLimitPassesTheSizeCheck() throws Exception {
    MockWebServer server = https(SERVER_CERT, CA, Protocol.HTTP_1_1);
    server.enqueue(status(200).chunkedBody(zeros(BundleLimits.MAX_TOTAL_BYTES), 64 * 1024).build());

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("not-gzip", p.rule(), "the limit is inclusive, so the next check (format) decides");
  }

  @Test
  void http2BodyWithoutLengthOverTheLimitIsRefusedWhileReading() throws Exception {
    MockWebServer server = https(); // HTTP/2: DATA frames with no content-length header
    server.enqueue(status(200).body(Bodies.unknownLength(BundleLimits.MAX_TOTAL_BYTES + 1)).build());

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("size-limit", p.rule());
    assertContains(p.message(), "the response is larger than " + BundleLimits.MAX_TOTAL_BYTES + " bytes");
  }

  @Test
  void htmlPageWithStatus200IsNotGzip() throws Exception {
    MockWebServer server = https();
    server.enqueue(status(200).addHeader("Content-Type", "text/html; charset=utf-8")
        .body("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n")
        .build());

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("not-gzip", p.rule());
    assertContains(p.message(), "got an HTML page");
  }

  @Test
  void truncatedGzipIsBadBundleTruncated() throws Exception {
    MockWebServer server = https();
    server.enqueue(gzipBody(Arrays.copyOf(ARCHIVE, ARCHIVE.length / 2)));

    Problem p = badBundle(open(urlOf(server)));

    assertEquals("truncated", p.rule());
    assertContains(p.message(), "truncated download?");
  }

  // ---- connection failures ----

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = Protocol.class, names = {"HTTP_2", "HTTP_1_1"})
  void connectionClosedMidBodyIsUnreachable(Protocol protocol) throws Exception {
    MockWebServer server = https(protocol);
    // The socket is closed once half of the declared body has been written.
    server.enqueue(new MockResponse.Builder(gzipBody(ARCHIVE)).onResponseBody(new SocketEffect.CloseSocket())
        .build());

    SourceException e = fetchFails(open(urlOf(server)));

    assertEquals(SourceException.Kind.UNREACHABLE, e.kind());
    assertContains(e.getMessage(), "connection to localhost:" + server.getPort() + " failed");
    assertEquals(versionOf(protocol), take(server).getVersion());
  }

  @Test
  void stalledServerTimesOutAsUnreachable() throws Exception {
    MockWebServer server = https();
    server.enqueue(new MockResponse.Builder(gzipBody(ARCHIVE)).onResponseStart(SocketEffect.Stall.INSTANCE).build());
    BundleSource source = BundleSources.open(urlOf(server), new BundleSources.Transport(Optional.of(caFile),
        Optional.of(tokenFile), Duration.ofMillis(300), USER_AGENT, CLOCK));

    SourceException e = fetchFails(source);

    assertEquals(SourceException.Kind.UNREACHABLE, e.kind());
    assertContains(e.getMessage(), "timed out talking to localhost:" + server.getPort());
  }

  @Test
  void connectionRefusedIsUnreachableQuickly() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, TestTls.LOOPBACK)) {
      port = s.getLocalPort();
    }
    BundleSource source = open("https://localhost:" + port + PATH);

    long start = System.nanoTime();
    SourceException e = fetchFails(source);
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertEquals(SourceException.Kind.UNREACHABLE, e.kind());
    assertContains(e.getMessage(), "cannot connect to localhost:" + port);
    assertTrue(took.compareTo(TIMEOUT) < 0, () -> "a refused connection waited for the timeout: " + took);
  }

  // ---- source configuration ----

  @Test
  void anEventListenerSeesEachFetch() throws Exception {
    MockWebServer server = https();
    server.enqueue(new MockResponse.Builder().code(200).body(new Buffer().write(ARCHIVE))
        .setHeader("ETag", "\"v1\"").build());
    server.enqueue(new MockResponse.Builder().code(304).setHeader("ETag", "\"v1\"").build());
    List<Integer> codes = new CopyOnWriteArrayList<>();
    HttpsSource source = new HttpsSource(server.url(PATH).newBuilder().host("localhost").build(),
        TlsTrust.trustManager(Optional.of(caFile)), Optional.of(BearerToken.readFile(tokenFile)), TIMEOUT, USER_AGENT,
        CLOCK, call -> new EventListener() {
          @Override
          public void responseHeadersEnd(Call c, Response r) {
            codes.add(r.code());
          }
        });
    assertTrue(source.fetch(Optional.empty()) instanceof FetchResult.Fetched);
    assertTrue(source.fetch(Optional.of("\"v1\"")) instanceof FetchResult.NotModified);
    assertEquals(List.of(200, 304), codes);
  }

  @Test
  void plainHttpSourceIsRefusedAtConfiguration() {
    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> open("http://localhost:8080" + PATH));

    assertContains(e.getMessage(), "plain http:// is refused");
    assertContains(e.getMessage(), "serve it over https://");
  }

  @Test
  void plainHttpSourceWithUserInfoIsRefusedWithoutPrintingThePassword() {
    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> open("http://vm:s3cr3t-pw@localhost:8080" + PATH));

    assertContains(e.getMessage(), "plain http:// is refused");
    assertContains(e.getMessage(), "http://[redacted]@localhost:8080");
    assertFalse(e.getMessage().contains("s3cr3t-pw"), e.getMessage());
  }

  @Test
  void httpsSourceWithUserInfoIsRefusedWithoutPrintingThePassword() {
    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> open("https://vm:s3cr3t-pw@localhost:8443" + PATH));

    assertContains(e.getMessage(), "carries a user name or password");
    assertContains(e.getMessage(), "bundle.tokenFile");
    assertFalse(e.getMessage().contains("s3cr3t-pw"), e.getMessage());
  }

  // ---- helpers ----

  private MockWebServer https() throws IOException {
    return https(SERVER_CERT, CA);
  }

  /** A server for {@code protocol}: HTTP/2 is offered beside HTTP/1.1 (as servers do); HTTP/1.1 is offered alone. */
  private MockWebServer https(Protocol protocol) throws IOException {
    return protocol == Protocol.HTTP_2 ? https() : https(SERVER_CERT, CA, protocol);
  }

  private static String versionOf(Protocol protocol) {
    return protocol == Protocol.HTTP_2 ? "HTTP/2" : "HTTP/1.1";
  }

  private MockWebServer https(HeldCertificate leaf, HeldCertificate signer, Protocol... protocols)
      throws IOException {
    MockWebServer server = TestTls.startHttps(leaf, signer, protocols);
    servers.add(server);
    return server;
  }

  private MockWebServer plain() throws IOException {
    MockWebServer server = TestTls.startPlain();
    servers.add(server);
    return server;
  }

  private static String urlOf(MockWebServer server) {
    return "https://localhost:" + server.getPort() + PATH;
  }

  /** The user's path: a SOURCE string and the transport settings the CLI builds from flags and config. */
  private BundleSource open(String url) throws SourceConfigException {
    return BundleSources.open(url,
        new BundleSources.Transport(Optional.of(caFile), Optional.of(tokenFile), TIMEOUT, USER_AGENT, CLOCK));
  }

  private static SourceException fetchFails(BundleSource source) {
    return assertThrows(SourceException.class, source::fetch);
  }

  private static Problem badBundle(BundleSource source) {
    BadBundleException e = assertThrows(BadBundleException.class, source::fetch);
    assertEquals(1, e.problems().size(), e::getMessage);
    Problem p = e.problems().get(0);
    assertEquals("archive", p.file());
    return p;
  }

  private static RecordedRequest take(MockWebServer server) throws InterruptedException {
    RecordedRequest r = server.takeRequest(1, TimeUnit.SECONDS);
    assertNotNull(r, "the server received no request");
    return r;
  }

  private static MockResponse.Builder status(int code) {
    return new MockResponse.Builder().code(code);
  }

  private static MockResponse gzipBody(byte[] bytes) {
    return status(200).addHeader("Content-Type", "application/gzip").body(new Buffer().write(bytes)).build();
  }

  private static Buffer zeros(int n) {
    return new Buffer().write(new byte[n]);
  }

  private static Path writeFile(Path file, String content, String perms) throws IOException {
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(perms)));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(perms)); // whatever the umask
    Files.writeString(file, content, StandardCharsets.US_ASCII);
    return file;
  }

  private static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static String stackTrace(Throwable t) {
    StringWriter sw = new StringWriter();
    t.printStackTrace(new PrintWriter(sw));
    return sw.toString();
  }

  private static void assertContains(String actual, String expected) {
    assertNotNull(actual, "message is null");
    assertTrue(actual.contains(expected), () -> "expected to contain <" + expected + "> but was <" + actual + ">");
  }
}
