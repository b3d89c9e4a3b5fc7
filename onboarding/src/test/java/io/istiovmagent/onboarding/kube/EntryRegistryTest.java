package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each reporting VM as a WorkloadEntry with its Healthy condition, against fabric8's mock API server. */
@EnableKubernetesMockClient(crud = true)
class EntryRegistryTest {
  private static final String VM1 = "0123456789abcdef0123456789abcdef";
  private static final Grant.Vm GRANT = new Grant.Vm("bar", "foo", VM1);

  KubernetesMockServer server;
  KubernetesClient client;
  private MeshOnMockApi mesh;
  private EntryRegistry registry;

  @BeforeEach
  void start() throws Exception {
    mesh = new MeshOnMockApi(server, client).istioctlCase();
    registry = new EntryRegistry(client, KubernetesMode.reads(client, MeshOnMockApi.options(
        java.util.Optional.empty())), mesh.clock, mesh.log);
  }

  @AfterEach
  void stop() {
    registry.close();
  }

  private static HealthReport report(String status, String state, Boolean ready, List<String> addresses) {
    return new HealthReport(1, status, List.of(), "2026-12-07T10:00:00Z", 1L,
        new HealthReport.Agent("t", "2026-12-07T09:59:00Z", 60L), new HealthReport.Host("vm-1", VM1, addresses),
        new HealthReport.Workload("bar", "vm-serviceaccount", "foo", null, null), null,
        new HealthReport.Sidecar(state, ready, 0L, 812L, false, List.of()), List.of());
  }

  private void send(HealthReport r) throws Exception {
    registry.accepted(GRANT, r, mesh.clock.instant());
    await(registry::idle);
  }

  /** Polls a condition the workers make true; fails after 10 s. Never a fixed sleep. */
  private static void await(BooleanSupplier done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out");
      Thread.sleep(5);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> healthy(Map<String, Object> entry) {
    List<Map<String, Object>> conditions = (List<Map<String, Object>>) ((Map<String, Object>) entry.get("status"))
        .get("conditions");
    return conditions.stream().filter(c -> "Healthy".equals(c.get("type"))).findFirst().orElseThrow();
  }

  @Test
  @SuppressWarnings("unchecked")
  void aFirstReportRegistersTheVmAndItsHealthFollowsTheSidecar() throws Exception {
    send(report("HEALTHY", "active/running", true, List.of("127.0.0.1", "10.0.0.7")));
    Map<String, Object> entry = mesh.entry(VM1);
    Map<String, Object> meta = (Map<String, Object>) entry.get("metadata");
    assertEquals("true", ((Map<String, String>) meta.get("annotations")).get("proxy.istio.io/health-checks-enabled"));
    assertEquals("foo", ((List<Map<String, Object>>) meta.get("ownerReferences")).get(0).get("name"));
    assertEquals("10.0.0.7", ((Map<String, Object>) entry.get("spec")).get("address"));
    assertEquals("vm-serviceaccount", ((Map<String, Object>) entry.get("spec")).get("serviceAccount"));
    assertEquals("True", healthy(entry).get("status"));
    assertEquals("Serving", healthy(entry).get("reason"));

    mesh.clock.advance(Duration.ofSeconds(1));
    send(report("UNHEALTHY", "failed/failed", false, List.of("10.0.0.7")));
    Map<String, Object> down = healthy(mesh.entry(VM1));
    assertEquals("False", down.get("status"));
    assertEquals("SidecarDown", down.get("reason"));
    assertEquals(Instant.parse("2026-12-07T10:00:01Z").toString(), down.get("lastTransitionTime"));
    String version = (String) ((Map<String, Object>) mesh.entry(VM1).get("metadata")).get("resourceVersion");

    mesh.clock.advance(Duration.ofSeconds(60));
    send(report("UNHEALTHY", "failed/failed", false, List.of("10.0.0.7")));
    assertEquals(version, ((Map<String, Object>) mesh.entry(VM1).get("metadata")).get("resourceVersion"),
        "a heartbeat with the same verdict writes nothing");

    send(report("STOPPING", "active/running", true, List.of("10.0.0.7")));
    assertEquals("AgentStopping", healthy(mesh.entry(VM1)).get("reason"));
  }

  @Test
  void aVmWithoutAReachableAddressIsNotRegisteredAndTheLogSaysWhy() throws Exception {
    send(report("HEALTHY", "active/running", true, List.of("127.0.0.1", "fe80::1")));
    assertNull(mesh.entry(VM1));
    assertTrue(mesh.logged().contains("reports no address the mesh could reach"), mesh.logged());
    assertTrue(registry.problems().containsKey("bar/foo-" + VM1));
  }
}
