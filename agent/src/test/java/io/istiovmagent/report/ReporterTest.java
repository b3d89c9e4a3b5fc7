package io.istiovmagent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The reporter against a real HTTPS endpoint on loopback. */
class ReporterTest {
  private static final HeldCertificate CA = TestTls.newCa("reporter test CA");
  private static final String JOIN = "join-token-0123456789abcdef";

  @TempDir
  Path dir;

  private MockWebServer server;
  private final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
  private final AtomicBoolean down = new AtomicBoolean();
  private final AtomicInteger attempts = new AtomicInteger();
  private volatile int code = 200;
  /** A Retry-After header on the answers, when set. */
  private volatile String retryAfterHeader;
  /** When the server received each report, System.nanoTime(), in order. */
  private final BlockingQueue<Long> receivedNanos = new LinkedBlockingQueue<>();
  private volatile String answer = "{\"accepted\":true,\"hints\":{}}";
  private final AtomicInteger fetchHints = new AtomicInteger();
  /** The revisions of bundleConfirmed hints, with the time each report was sent. */
  private final BlockingQueue<String> confirmations = new LinkedBlockingQueue<>();
  private final Reporter.Hints hints = new Reporter.Hints() {
    @Override
    public void fetchBundleNow() {
      fetchHints.incrementAndGet();
    }

    @Override
    public void bundleConfirmed(String revision, Instant sentAt) {
      confirmations.add(revision + " " + sentAt);
    }
  };
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private Reporter reporter;

  @BeforeEach
  void start() throws Exception {
    server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA);
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        attempts.incrementAndGet();
        if (down.get()) {
          return new MockResponse.Builder().code(503).build();
        }
        // Read before the report is handed to the test, which may change the answer for the next one.
        int status = code;
        String body = answer;
        String retryAfter = retryAfterHeader;
        receivedNanos.add(System.nanoTime());
        try {
          assertEquals("Bearer " + JOIN, r.getHeaders().get("Authorization"));
          received.add(ReportExchange.JSON.readTree(r.getBody().utf8()));
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        MockResponse.Builder m = new MockResponse.Builder().code(status).body(body);
        if (retryAfter != null) {
          m.setHeader("Retry-After", retryAfter);
        }
        return m.build();
      }
    });
  }

  private Reporter reporter(Duration interval) throws Exception {
    return reporter(interval, HttpsClients.NO_EVENTS);
  }

  private Reporter reporter(Duration interval, EventListener.Factory events) throws Exception {
    Path tokenFile = Files.writeString(dir.resolve("join"), JOIN);
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    reporter = new Reporter(server.url("/v1/health").newBuilder().host("localhost").build(),
        TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))), Optional.of(BearerToken.readFile(tokenFile)),
        interval, Duration.ofSeconds(2), new Backoff(Duration.ofMillis(50), Duration.ofMillis(200),
            new SplittableRandom(1)), new SplittableRandom(2),
        new HealthReport.Host("vm-1", "0123456789abcdef0123456789abcdef", List.of("10.0.0.7")), Clock.systemUTC(),
        new Log(new PrintStream(logs, true), true), "test", hints, events);
    reporter.start();
    return reporter;
  }

  @AfterEach
  void stop() {
    if (reporter != null) {
      reporter.close();
    }
    server.close();
  }

  @Test
  void sendsTheCurrentStateAtOnceAndOnEveryChange() throws Exception {
    reporter(Duration.ofMinutes(10));
    long t0 = System.nanoTime();
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    JsonNode first = next();
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(1).toNanos(), "first report within a second");
    assertEquals("HEALTHY", first.get("status").asText());
    assertEquals(1, first.get("sequence").asLong());
    assertEquals("vm-namespace", first.at("/workload/namespace").asText());
    assertEquals("0123456789abcdef0123456789abcdef", first.at("/host/machineId").asText());
    assertEquals(600, first.at("/agent/heartbeatSeconds").asLong());

    long t1 = System.nanoTime();
    reporter.offer(status(AgentStatus.Health.UNHEALTHY, List.of("istio.service is failed/failed"), "failed/failed"));
    JsonNode second = next();
    assertTrue(System.nanoTime() - t1 < Duration.ofSeconds(1).toNanos(), "a change reported within a second");
    assertEquals("UNHEALTHY", second.get("status").asText());
    assertEquals("failed/failed", second.at("/sidecar/state").asText());
    assertEquals(2, second.get("sequence").asLong());

    // The same state offered again (time moved on) is not a change.
    reporter.offer(status(AgentStatus.Health.UNHEALTHY, List.of("istio.service is failed/failed"), "failed/failed"));
    assertEquals(null, received.poll(1500, TimeUnit.MILLISECONDS));
  }

  @Test
  void anEventListenerSeesEachReportCallDeliveredOrNot() throws Exception {
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    reporter(Duration.ofMinutes(10), call -> new EventListener() {
      @Override
      public void responseHeadersEnd(Call c, Response r) {
        seen.add(c.request().method() + " " + c.request().url().encodedPath() + " " + r.code());
      }
    });
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    assertEquals("POST /v1/health 200", seen.poll(10, TimeUnit.SECONDS));
    down.set(true);
    reporter.offer(status(AgentStatus.Health.UNHEALTHY, List.of("istio.service is failed/failed"), "failed/failed"));
    assertEquals("POST /v1/health 503", seen.poll(10, TimeUnit.SECONDS));
  }

  @Test
  void sleepsUntilTheHeartbeatWhileTheSameStateIsOfferedOverAndOver() throws Exception {
    // The daemon offers its status on every pass of its loop (every second): the reporter's thread must not wake
    // for each, nor poll on its own, when nothing worth a report changed.
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (reporter.looks() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(10); // until the loop is back waiting after the delivery
    }
    long looks = reporter.looks();
    for (int i = 0; i < 20; i++) {
      reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
      Thread.sleep(100); // the daemon's pace, ten times faster
    }
    assertTrue(reporter.looks() - looks <= 1, (reporter.looks() - looks) + " looks in 2 s with nothing to report");
    reporter.offer(status(AgentStatus.Health.DEGRADED, List.of("Envoy not ready (HTTP 503)"), "active/running"));
    assertEquals("DEGRADED", next().get("status").asText(), "a change still wakes it at once");
  }

  @Test
  void sendsHeartbeatsWhenNothingChanges() throws Exception {
    reporter(Duration.ofMillis(300));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    for (int i = 1; i <= 4; i++) {
      assertEquals(i, next().get("sequence").asLong());
    }
  }

  @Test
  void waitsAtLeastAnOverloadedEndpointsRetryAfter() throws Exception {
    // This reporter's own backoff retries within 200 ms; the endpoint asks for 2 s.
    code = 503;
    retryAfterHeader = "2";
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    long refusedAt = receivedNanos.take();
    code = 200;
    retryAfterHeader = null;
    next();
    long retriedAt = receivedNanos.take();
    long waitedMs = TimeUnit.NANOSECONDS.toMillis(retriedAt - refusedAt);
    assertTrue(waitedMs >= 2000, "retried " + waitedMs + " ms after a 503 with Retry-After: 2");
  }

  @Test
  void afterAnOutageSendsOneCurrentReportWithTheMissedTransitions() throws Exception {
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    down.set(true);
    int before = attempts.get();
    reporter.offer(status(AgentStatus.Health.UNHEALTHY, List.of("istio.service is failed/failed"), "failed/failed"));
    awaitAttempts(before + 2);
    reporter.offer(status(AgentStatus.Health.DEGRADED, List.of("Envoy not ready (HTTP 503)"), "active/running"));
    awaitAttempts(before + 4);
    assertNotNull(reporter.state().lastError());
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    down.set(false);
    JsonNode back = next();
    assertEquals("HEALTHY", back.get("status").asText(), "the current state goes first");
    assertEquals(2, back.get("sequence").asLong(), "failed attempts do not use up sequence numbers");
    List<String> missed = back.get("transitions").findValuesAsText("status");
    assertEquals(List.of("UNHEALTHY", "DEGRADED"), missed);
    assertEquals(null, received.poll(1500, TimeUnit.MILLISECONDS), "one report, not a flood");
    assertEquals(null, reporter.state().lastError());
  }

  @Test
  void sendsALastStoppingReport() throws Exception {
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    reporter.stop(status(AgentStatus.Health.STOPPING, List.of("agent stopping"), "active/running"), Duration.ofSeconds(3));
    assertEquals("STOPPING", next().get("status").asText());
  }

  @Test
  void aRejectedCredentialShowsInItsState() throws Exception {
    code = 401;
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (reporter.state().lastError() == null && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(reporter.state().lastError().startsWith("credential rejected (HTTP 401)"), reporter.state().toString());
    assertFalse(logs.toString().contains(JOIN));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"error\":\"unknown status \\\"FINE\\\"\"}", "<html>bad request</html>"})
  void aRefusedReportShowsTheServicesReasonInItsState(String body) throws Exception {
    code = 400;
    answer = body;
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (reporter.state().lastError() == null && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    String reason = body.startsWith("{") ? "unknown status \"FINE\"" : "no reason given";
    assertEquals("report refused (HTTP 400): " + reason, reporter.state().lastError());
  }

  @Test
  void followsTheFetchBundleNowHint() throws Exception {
    answer = "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":true,\"somethingNew\":1},\"extra\":[]}";
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (fetchHints.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, fetchHints.get());
  }

  @Test
  void anExplicitFetchBundleNowFalseConfirmsTheReportedRevisionAsOfItsSending() throws Exception {
    answer = "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":false}}";
    reporter(Duration.ofMinutes(10));
    Instant before = Instant.now();
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    String c = confirmations.poll(5, TimeUnit.SECONDS);
    assertNotNull(c, "no confirmation");
    assertEquals("sha256:abc", c.split(" ")[0]);
    Instant sentAt = Instant.parse(c.split(" ")[1]);
    assertFalse(sentAt.isBefore(before) || sentAt.isAfter(Instant.now()), "sent at " + sentAt);
    assertEquals(0, fetchHints.get());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"{\"accepted\":true,\"hints\":{}}", "{\"accepted\":true}",
      "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":\"false\"}}",
      "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":null}}", "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":0}}",
      "not json"})
  void anAnswerWithoutAnExplicitBooleanHintConfirmsNothing(String body) throws Exception {
    answer = body;
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    // The hints of one report are handled before the next report goes out: a second answer asking for a fetch
    // marks the point by which a confirmation from the first would have come.
    answer = "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":true}}";
    reporter.offer(status(AgentStatus.Health.DEGRADED, List.of("Envoy not ready (HTTP 503)"), "active/running"));
    next();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (fetchHints.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, fetchHints.get());
    assertEquals(List.of(), List.copyOf(confirmations));
  }

  @Test
  void theJoinTokenIsNeverInAReport() throws Exception {
    reporter(Duration.ofMinutes(10));
    reporter.offer(status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    assertFalse(next().toString().contains(JOIN));
  }

  private JsonNode next() throws InterruptedException {
    JsonNode n = received.poll(5, TimeUnit.SECONDS);
    assertNotNull(n, "no report within 5 s; log:\n" + logs);
    return n;
  }

  private void awaitAttempts(int n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (attempts.get() < n && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(attempts.get() >= n, "expected " + n + " attempts, saw " + attempts.get());
  }

  static AgentStatus status(AgentStatus.Health health, List<String> reasons, String sidecarState) {
    Instant now = Instant.now();
    return new AgentStatus(AgentStatus.FORMAT, 42, "test", now.minusSeconds(60), now, AgentStatus.Phase.RUNNING, health,
        reasons, new AgentStatus.Bundle("https://x/v1/bundle", "sha256:abc", "sha256:abd", now, now, false, now.plusSeconds(3600),
            now.plusSeconds(86_400), "vm-namespace", "vm-sa", "hello-vm", "Kubernetes", null, null, null),
        new AgentStatus.Hosts(1, 0, null, null),
        new AgentStatus.Sidecar(true, SidecarState.of(sidecarState), 812, 0, true, null, false, List.of()), null, null, null);
  }
}
