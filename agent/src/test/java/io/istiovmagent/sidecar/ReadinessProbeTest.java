package io.istiovmagent.sidecar;

import static io.istiovmagent.sidecar.SystemctlServiceManagerTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link ReadinessProbe} against a real MockWebServer listening on 127.0.0.1 only. */
class ReadinessProbeTest {
  private static final InetAddress LOOPBACK = loopback();
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final String PATH = "/healthz/ready";

  private final MockWebServer server = new MockWebServer();
  private final MockWebServer other = new MockWebServer();

  private static InetAddress loopback() {
    try {
      return InetAddress.getByAddress("localhost", new byte[] {127, 0, 0, 1});
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @BeforeEach
  void start() throws IOException {
    server.start(LOOPBACK, 0);
    other.start(LOOPBACK, 0);
  }

  @AfterEach
  void stop() {
    server.close();
    other.close();
  }

  private ReadinessProbe probe(MockWebServer s, Duration timeout) {
    return new ReadinessProbe("http://127.0.0.1:" + s.getPort() + PATH, timeout);
  }

  @Test
  void http200IsReadyAndTheProbeIsAGetOfTheConfiguredPath() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).build());

    Readiness r = probe(server, TIMEOUT).probe();

    assertEquals(Readiness.READY, r);
    assertTrue(r.ready());
    RecordedRequest req = server.takeRequest(1, TimeUnit.SECONDS);
    assertEquals("GET", req.getMethod());
    assertEquals(PATH, req.getTarget());
  }

  @Test
  void http503IsNotReadyWithTheStatus() {
    server.enqueue(new MockResponse.Builder().code(503).body("not ready").build());

    Readiness r = probe(server, TIMEOUT).probe();

    assertEquals(new Readiness.NotReady("HTTP 503"), r);
    assertFalse(r.ready());
  }

  @Test
  void closedPortIsConnectionRefusedWithoutWaitingForTheTimeout() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
      port = s.getLocalPort();
    }
    ReadinessProbe p = new ReadinessProbe("http://127.0.0.1:" + port + PATH, TIMEOUT);

    long start = System.nanoTime();
    Readiness r = p.probe();
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertEquals(new Readiness.NotReady("connection refused"), r);
    assertTrue(took.compareTo(TIMEOUT) < 0, () -> "a refused connection waited " + took);
  }

  @Test
  void stalledResponseIsTimedOutWithinTheTimeout() {
    server.enqueue(new MockResponse.Builder().code(200).onResponseStart(SocketEffect.Stall.INSTANCE).build());
    Duration timeout = Duration.ofMillis(500);

    long start = System.nanoTime();
    Readiness r = probe(server, timeout).probe();
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertEquals(new Readiness.NotReady("timed out"), r);
    assertTrue(took.compareTo(timeout.plusSeconds(1)) < 0, () -> "the probe took " + took);
  }

  @Test
  void delayedHeadersBeyondTheTimeoutAreTimedOut() {
    server.enqueue(new MockResponse.Builder().code(200).headersDelay(5, TimeUnit.SECONDS).build());

    Readiness r = probe(server, Duration.ofMillis(300)).probe();

    assertEquals(new Readiness.NotReady("timed out"), r);
  }

  @Test
  void redirectIsNotFollowedSoTheProbeStaysOnItsUrl() {
    server.enqueue(new MockResponse.Builder().code(302)
        .addHeader("Location", "http://127.0.0.1:" + other.getPort() + PATH).build());
    other.enqueue(new MockResponse.Builder().code(200).build());

    Readiness r = probe(server, TIMEOUT).probe();

    assertEquals(new Readiness.NotReady("HTTP 302"), r);
    assertEquals(0, other.getRequestCount());
  }

  @Test
  void localhostUrlReachesTheLoopbackServer() {
    server.enqueue(new MockResponse.Builder().code(200).build());

    Readiness r = new ReadinessProbe("http://localhost:" + server.getPort() + PATH, TIMEOUT).probe();

    assertEquals(Readiness.READY, r);
  }

  @Test
  void localhostIsAnsweredWithoutTheResolverAndNoOtherNameIsLookedUp() throws Exception {
    // Not /etc/hosts: that file is rewritten by cloud-init and by this agent, and could point localhost anywhere.
    for (InetAddress a : ReadinessProbe.loopbackOnly("localhost")) {
      assertTrue(a.isLoopbackAddress(), a::toString);
    }
    assertThrows(UnknownHostException.class, () -> ReadinessProbe.loopbackOnly("istiod.istio-system.svc"));
  }

  @Test
  void aSystemWideProxyIsNotUsed() {
    ProxySelector saved = ProxySelector.getDefault();
    // "other" plays an HTTP proxy; a probe that used it would get this 200 for a sidecar that answers 503.
    other.enqueue(new MockResponse.Builder().code(200).build());
    server.enqueue(new MockResponse.Builder().code(503).build());
    ProxySelector.setDefault(new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        return List.of(new Proxy(Proxy.Type.HTTP, new InetSocketAddress(LOOPBACK, other.getPort())));
      }

      @Override
      public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
    });
    try {
      Readiness r = probe(server, TIMEOUT).probe();

      assertEquals(new Readiness.NotReady("HTTP 503"), r);
      assertEquals(0, other.getRequestCount());
    } finally {
      ProxySelector.setDefault(saved);
    }
  }

  @Test
  void everyProbeOpensAFreshConnection() throws Exception {
    // After Envoy restarts, a pooled keep-alive socket would be dead; each probe must not depend on one.
    server.enqueue(new MockResponse.Builder().code(200).build());
    server.enqueue(new MockResponse.Builder().code(200).build());
    ReadinessProbe p = probe(server, TIMEOUT);

    p.probe();
    p.probe();

    RecordedRequest first = server.takeRequest(1, TimeUnit.SECONDS);
    RecordedRequest second = server.takeRequest(1, TimeUnit.SECONDS);
    assertEquals(0, second.getExchangeIndex(), "the second probe reused the first one's connection");
    assertTrue(first.getConnectionIndex() != second.getConnectionIndex());
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://127.0.0.1:15021/healthz/ready", "http://localhost:15021/healthz/ready",
      "http://LOCALHOST:15021/", "http://[::1]:15021/healthz/ready", "http://127.0.0.2:15020/healthz/ready",
      "http://127.255.255.254/", "https://127.0.0.1:15021/", "http://[0:0:0:0:0:0:0:1]:15021/"})
  void acceptsLoopbackUrls(String url) {
    new ReadinessProbe(url, TIMEOUT);
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://10.0.0.7:15021/healthz/ready", "http://istiod.istio-system.svc:15021/",
      "http://example.com/", "http://localhost.example.com/", "http://127.0.0.1.nip.io/", "http://0.0.0.0:15021/",
      "http://[::]:15021/", "http://[::ffff:10.0.0.1]:15021/", "http://169.254.169.254/latest/meta-data/",
      "http://2130706433/", "http://127.1/"})
  void refusesUrlsWhoseHostIsNotLoopback(String url) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ReadinessProbe(url, TIMEOUT));
    assertContains(e.getMessage(), "sidecar.readinessUrl must point at this machine");
  }

  @ParameterizedTest
  @ValueSource(strings = {"file:///etc/passwd", "ftp://127.0.0.1/", "127.0.0.1:15021", ""})
  void refusesWhatIsNotAnHttpUrl(String url) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ReadinessProbe(url, TIMEOUT));
    assertContains(e.getMessage(), "is not an http:// URL");
  }

  @Test
  void refusesCredentialsInTheUrlWithoutRepeatingThem() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ReadinessProbe("http://admin:hunter2@127.0.0.1:15021/", TIMEOUT));
    assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
  }

  @Test
  void defaultsAreEnvoysReadinessPortWithATwoSecondTimeout() {
    assertEquals("http://127.0.0.1:15021/healthz/ready", ReadinessProbe.defaults().url().toString());
    assertEquals(Duration.ofSeconds(2), ReadinessProbe.DEFAULT_TIMEOUT);
  }
}
