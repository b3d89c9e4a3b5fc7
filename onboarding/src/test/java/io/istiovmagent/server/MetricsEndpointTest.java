package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import okhttp3.Request;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics listener of a real endpoint on loopback: requests over HTTPS, then scrapes over plain HTTP as
 * Prometheus takes them, checked by promtool and counted exactly.
 */
class MetricsEndpointTest {
  private static final String REQUESTS = "istio_vm_onboarding_requests_total";
  private static final String LATENCY = "istio_vm_onboarding_request_duration_seconds";
  private static final String BUNDLE = "/v1/bundle/{namespace}/{group}";
  private static final String VM = "/v1/vms/{namespace}/{group}/{machineId}";
  private static final String MACHINE_A = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
  private static final String MACHINE_B = "f9e8d7c6b5a40392817f6e5d4c3b2a10";

  @TempDir
  Path tmp;
  private ServerFixture f;
  private int port;

  @BeforeEach
  void start() throws Exception {
    f = ServerFixture.start(tmp, b -> b.metricsListen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
    port = f.server.metricsPort();
  }

  @AfterEach
  void stop() {
    f.close();
  }

  private static String requests(String route, int code) {
    return REQUESTS + "{route=\"" + route + "\",code=\"" + code + "\"}";
  }

  @Test
  void countsEachAnswerUnderItsRoutePatternAndCode() throws Exception {
    assertEquals(200, f.get("/v1/bundle/" + ServerFixture.NS + "/" + ServerFixture.GROUP, ServerFixture.TOKEN)
        .code());
    assertEquals(200, f.get("/v1/bundle/" + ServerFixture.NS + "/" + ServerFixture.GROUP, ServerFixture.TOKEN)
        .code());
    assertEquals(401, f.get("/v1/bundle/" + ServerFixture.NS + "/" + ServerFixture.GROUP, null).code());
    assertEquals(200, f.get("/healthz", null).code());
    assertEquals(401, f.get("/no/such/" + MACHINE_B, null).code());
    assertEquals(200, f.post("/v1/health", ServerFixture.TOKEN, ServerFixture.report(MACHINE_A, "HEALTHY", 1, null))
        .code());
    int deregistered = f.call(new Request.Builder().url(f.url("/v1/vms/" + ServerFixture.NS + "/"
        + ServerFixture.GROUP + "/" + MACHINE_A)).header("Authorization", "Bearer " + ServerFixture.TOKEN)
        .delete().build()).code();

    Exposition e = Exposition.scrapeUntil(port, x -> x.sum(REQUESTS + "{") == 7);
    assertEquals(2, e.value(requests(BUNDLE, 200)), e.text);
    assertEquals(1, e.value(requests(BUNDLE, 401)), e.text);
    assertEquals(1, e.value(requests("/healthz", 200)), e.text);
    assertEquals(1, e.value(requests("other", 401)), e.text);
    assertEquals(1, e.value(requests("/v1/health", 200)), e.text);
    assertEquals(1, e.value(requests(VM, deregistered)), "a machine id's path counts under its pattern\n" + e.text);
    assertEquals(7, e.sum(REQUESTS + "{"), e.text);
    for (String secretOrId : new String[] {MACHINE_A, MACHINE_B, ServerFixture.NS, ServerFixture.GROUP,
        ServerFixture.TOKEN, "/no/such"}) {
      assertFalse(e.text.contains(secretOrId), secretOrId + " is in the metrics:\n" + e.text);
    }
    assertEquals("", e.promtoolProblems());
  }

  @Test
  void theLatencyHistogramCountsEveryAnswerOnceInCumulativeBuckets() throws Exception {
    for (int i = 0; i < 3; i++) {
      assertEquals(200, f.get("/healthz", null).code());
    }
    Exposition e = Exposition.scrapeUntil(port, x -> x.value(LATENCY + "_count{route=\"/healthz\"}") == 3);
    assertEquals(3, e.value(LATENCY + "_count{route=\"/healthz\"}"), e.text);
    assertEquals(3, e.value(LATENCY + "_bucket{route=\"/healthz\",le=\"+Inf\"}"), e.text);
    double previous = 0;
    for (String le : new String[] {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
        "+Inf"}) {
      double n = e.value(LATENCY + "_bucket{route=\"/healthz\",le=\"" + le + "\"}");
      assertTrue(n >= previous, "le=" + le + " holds fewer than the bucket below it\n" + e.text);
      previous = n;
    }
    double sum = e.value(LATENCY + "_sum{route=\"/healthz\"}");
    assertTrue(sum > 0 && sum < 30, "three answers on loopback took " + sum + " s in all");
    assertFalse(e.text.contains(LATENCY + "_count{route=\"/v1/health\"}"), "no series for a route never asked");
  }

  @Test
  void countsTheVmsByStateAsTheListShowsThem() throws Exception {
    assertEquals(200, f.post("/v1/health", ServerFixture.TOKEN, ServerFixture.report(MACHINE_A, "HEALTHY", 1, null))
        .code());
    assertEquals(200, f.post("/v1/health", ServerFixture.TOKEN, ServerFixture.report(MACHINE_B, "DEGRADED", 1,
        null)).code());
    Exposition e = Exposition.scrape(port);
    assertEquals(1, e.value("istio_vm_onboarding_vms{state=\"HEALTHY\"}"), e.text);
    assertEquals(1, e.value("istio_vm_onboarding_vms{state=\"DEGRADED\"}"), e.text);
    assertEquals(0, e.value("istio_vm_onboarding_vms{state=\"STALE\"}"), e.text);
    assertTrue(e.samples.containsKey("istio_vm_onboarding_vms{state=\"UNKNOWN\"}"), "every state, 0 included");

    f.clock.advance(Duration.ofMinutes(4)); // three heartbeats of 60 s missed
    e = Exposition.scrape(port);
    assertEquals(2, e.value("istio_vm_onboarding_vms{state=\"STALE\"}"), e.text);
    assertEquals(0, e.value("istio_vm_onboarding_vms{state=\"HEALTHY\"}"), e.text);
    assertEquals("", e.promtoolProblems());
  }

  @Test
  void theMetricsPortServesMetricsAndNothingElse() throws Exception {
    for (String path : new String[] {"/", "/v1/vms", "/healthz", "/metrics/", "/metricsx", "/fleet"}) {
      HttpResponse<String> r = Exposition.get(port, "GET", path);
      assertEquals(404, r.statusCode(), path);
      assertFalse(r.body().contains("istio_vm_onboarding"), path + " served metrics");
    }
    HttpResponse<String> post = Exposition.get(port, "POST", "/metrics");
    assertEquals(405, post.statusCode());
    assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
    assertEquals(200, Exposition.get(port, "HEAD", "/metrics").statusCode());
    assertEquals(200, Exposition.get(port, "GET", "/metrics?name[]=x").statusCode(), "a query is ignored");
    assertEquals(401, f.get("/metrics", null).code(), "the endpoint's own port does not serve the metrics");
    assertEquals(404, f.get("/metrics", ServerFixture.ADMIN_TOKEN).code());
  }

  @Test
  void theKubernetesFamiliesAreThereFromTheStartAtZero() throws Exception {
    Exposition e = Exposition.scrape(port);
    assertEquals(0, e.value("istio_vm_onboarding_token_mints_total{outcome=\"minted\"}"));
    assertTrue(e.samples.containsKey("istio_vm_onboarding_enrolments_total{outcome=\"enrolled\"}"), e.text);
    assertTrue(e.text.contains("# TYPE istio_vm_onboarding_kubernetes_requests_total counter\n"), e.text);
    assertEquals("", e.promtoolProblems());
  }

  @Test
  void aMetricsAddressInUseFailsTheStartAndSaysWhich() throws Exception {
    java.nio.file.Files.createDirectories(tmp.resolve("second"));
    OnboardingServer.MetricsListenException e = assertThrows(OnboardingServer.MetricsListenException.class,
        () -> ServerFixture.start(tmp.resolve("second"), b -> b.metricsListen(new InetSocketAddress(
            InetAddress.getLoopbackAddress(), port))));
    assertTrue(e.getMessage().startsWith("cannot listen for metrics on 127.0.0.1:" + port + ": "), e.getMessage());
  }
}
