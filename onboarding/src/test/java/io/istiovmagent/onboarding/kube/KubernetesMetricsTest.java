package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.server.Exposition;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.server.metrics.ServiceMetrics;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes mode's metrics, the service over HTTPS on loopback in front of fabric8's mock API server (CRUD): the
 * client's own requests counted by verb, resource and code (a watch once), enrolments and token mints by outcome,
 * the fleet's VMs by state; never a token, a namespace or a machine id.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesMetricsTest {
  private static final String VM1 = "0123456789abcdef0123456789abcdef";
  private static final String API = "istio_vm_onboarding_kubernetes_requests_total";
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  KubernetesMockServer server;
  KubernetesClient client;
  @TempDir
  Path tmp;
  private MeshOnMockApi mesh;
  private ServiceMetrics metrics;
  private KubernetesClient counted;
  private ClusterCredentials creds;
  private EntryRegistry sink;
  private OnboardingServer endpoint;
  private OkHttpClient http;

  @BeforeEach
  void start() throws Exception {
    mesh = new MeshOnMockApi(server, client).istioctlCase(); // through the test's client: not counted
    metrics = new ServiceMetrics();
    counted = KubernetesMode.counted(new KubernetesClientBuilder().withConfig(client.getConfiguration()),
        Optional.of(metrics)).build();
    creds = new ClusterCredentials(counted, mesh.clock, Duration.ofSeconds(10), mesh.log).watching();
    sink = new EntryRegistry(counted, KubernetesMode.reads(counted, MeshOnMockApi.options(Optional.empty())),
        mesh.clock, mesh.log);
    ServerTls tls = ServerTls.selfSigned(mesh.clock, List.of());
    endpoint = OnboardingServer.builder().listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .tls(tls).bundles(KubernetesMode.over(counted, MeshOnMockApi.options(Optional.empty()), mesh.clock,
            mesh.log, sink::entryOf, metrics))
        .credentials(creds).enroller(KubernetesMode.registering(creds, sink)).healthSink(sink).clock(mesh.clock)
        .log(mesh.log).metrics(metrics)
        .metricsListen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).build();
    endpoint.start();
    HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(tls.certificate()).build();
    http = new OkHttpClient.Builder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
        .callTimeout(20, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() {
    endpoint.stop(); // closes the bundles, and with them the counted client
    sink.close();
    creds.close();
  }

  private record Reply(int code, String body) {}

  private Reply call(String method, String path, String bearer, String body) throws Exception {
    Request.Builder rb = new Request.Builder().url(endpoint.url() + path);
    if (bearer != null) {
      rb.header("Authorization", "Bearer " + bearer);
    }
    rb.method(method, body == null ? null : RequestBody.create(body, MediaType.get("application/json")));
    try (Response r = http.newCall(rb.build()).execute()) {
      return new Reply(r.code(), r.body().string());
    }
  }

  @Test
  void countsEnrolmentsMintsAndTheApiCallsBehindThem() throws Exception {
    String join = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    assertEquals(401, call("POST", "/v1/enroll/bar/foo", "abcdef.abcdefghijklmnopqrstuvwxyz",
        "{\"machineId\":\"" + VM1 + "\"}").code());
    assertEquals(400, call("POST", "/v1/enroll/bar/foo", join, "not json").code());
    Reply enrolled = call("POST", "/v1/enroll/bar/foo", join, "{\"machineId\":\"" + VM1 + "\"}");
    assertEquals(201, enrolled.code(), enrolled.body());
    String credential = JSON.readTree(enrolled.body()).path("credential").asText();
    Reply bundle = call("GET", "/v1/bundle/bar/foo", credential, null);
    assertEquals(200, bundle.code(), bundle.body());

    int port = endpoint.metricsPort();
    Exposition e = Exposition.scrapeUntil(port, x -> x.sum("istio_vm_onboarding_requests_total{") == 4);
    assertEquals(1, e.value("istio_vm_onboarding_enrolments_total{outcome=\"enrolled\"}"), e.text);
    assertEquals(1, e.value("istio_vm_onboarding_enrolments_total{outcome=\"unauthorized\"}"), e.text);
    assertEquals(1, e.value("istio_vm_onboarding_enrolments_total{outcome=\"bad_request\"}"), e.text);
    assertEquals(0, e.value("istio_vm_onboarding_enrolments_total{outcome=\"conflict\"}"), e.text);
    assertEquals(1, e.value("istio_vm_onboarding_token_mints_total{outcome=\"minted\"}"), e.text);
    assertEquals(1, e.value(API + "{verb=\"create\",resource=\"serviceaccounts/token\",code=\"201\"}"), e.text);
    assertTrue(e.value(API + "{verb=\"create\",resource=\"secrets\",code=\"201\"}") >= 2,
        "the join token's Secret and the credential's\n" + e.text);
    assertTrue(e.sum(API + "{verb=\"get\",resource=\"workloadgroups\",") >= 1, e.text);
    for (String secret : new String[] {join.substring(7), credential.substring(credential.lastIndexOf('.') + 1)}) {
      assertFalse(e.text.contains(secret), "a secret in the metrics:\n" + e.text);
    }
    assertFalse(e.text.contains(VM1), "a machine id in the metrics:\n" + e.text);
    assertFalse(e.text.contains("\"bar\""), "a namespace as a label value:\n" + e.text);
    assertEquals("", e.promtoolProblems());
  }

  /** The informer of the VMs' state Leases: its watch is one request however many events it brings. */
  @Test
  void aWatchCountsOnceWhateverItBrings() throws Exception {
    int port = endpoint.metricsPort();
    String watches = API + "{verb=\"watch\",resource=\"leases\",";
    Exposition e = Exposition.scrapeUntil(port, x -> x.sum(watches) >= 1);
    assertEquals(1, e.sum(watches), e.text);
    for (int i = 0; i < 3; i++) { // events on the watch, written past the counted client
      client.resources(Lease.class).inNamespace("bar").resource(new LeaseBuilder().withNewMetadata()
          .withName("vm-" + i).withLabels(Map.of(EntryPlan.MANAGED_BY, EntryPlan.MANAGER)).endMetadata().build())
          .create();
    }
    FleetOnMockApi.await(() -> sink.leaseCache().all().size() == 3);
    e = Exposition.scrape(port);
    assertEquals(1, e.sum(watches), "events are not requests\n" + e.text);
    assertEquals(1, e.sum(API + "{verb=\"list\",resource=\"leases\","), e.text);
    assertEquals(0, e.sum(API + "{verb=\"create\","), "nothing was created through the service's client");
  }
}
