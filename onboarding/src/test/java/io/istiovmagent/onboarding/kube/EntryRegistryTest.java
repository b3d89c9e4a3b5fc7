package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.EntryStatus;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import io.istiovmagent.server.HealthSink;
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
@SuppressWarnings("unchecked")
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

  @SuppressWarnings("unchecked")
  private static Map<String, Object> condition(Map<String, Object> entry, String type) {
    List<Map<String, Object>> conditions = (List<Map<String, Object>>) ((Map<String, Object>) entry.get("status"))
        .get("conditions");
    return conditions.stream().filter(c -> type.equals(c.get("type"))).findFirst().orElseThrow();
  }

  /** Reads come from the informer: heartbeats cost nothing, the liveness write comes once per 10 minutes. */
  @Test
  void aHeartbeatCostsTheApiServerNothing() throws Exception {
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    Map<String, Object> ours = condition(mesh.entry(VM1), EntryStatus.AGENT);
    assertEquals("Healthy", ours.get("reason"));
    assertTrue(((String) ours.get("message")).contains("sidecar=active/running"), (String) ours.get("message"));
    await(() -> registry.entryOf("bar", "foo", VM1).isPresent() && cacheHasStatus());
    int before = server.getRequestCount();
    // The VM's liveness window opens at its own phase of each 10 minutes; heartbeats until then cost nothing.
    Duration phase = EntryStatus.phase("bar/" + EntryPlan.name("foo", VM1));
    long sinceOpen = Math.floorMod(mesh.clock.instant().toEpochMilli() - phase.toMillis(),
        EntryStatus.LIVENESS.toMillis());
    Instant open = mesh.clock.instant().plus(EntryStatus.LIVENESS).minusMillis(sinceOpen);
    int heartbeats = 0;
    while (mesh.clock.instant().plusSeconds(60).isBefore(open)) {
      mesh.clock.advance(Duration.ofSeconds(60));
      send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
      heartbeats++;
    }
    assertEquals(before, server.getRequestCount(), heartbeats + " heartbeats, no request");
    mesh.clock.advance(Duration.between(mesh.clock.instant(), open).plusSeconds(30));
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    assertEquals(before + 1, server.getRequestCount(), "the liveness write, alone");
    assertEquals(mesh.clock.instant().toString(), condition(mesh.entry(VM1), EntryStatus.AGENT).get("lastProbeTime"));
    int afterLiveness = server.getRequestCount(); // the test's own read of the entry above is one
    mesh.clock.advance(Duration.ofSeconds(60));
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    assertEquals(afterLiveness, server.getRequestCount(), "once per window");
  }

  private boolean cacheHasStatus() {
    Map<String, Object> e = mesh.entry(VM1);
    return e != null && e.get("status") != null;
  }

  @Test
  void aVmEnrollingIsRegisteredOutOfTrafficUntilItsFirstReport() throws Exception {
    assertTrue(registry.register("bar", "foo", VM1, List.of("127.0.0.1", "10.0.0.9")));
    Map<String, Object> entry = mesh.entry(VM1);
    assertEquals(List.of("False", "Enrolled"), List.of(healthy(entry).get("status"), healthy(entry).get("reason")));
    assertEquals(List.of("Unknown", "Enrolled"), List.of(condition(entry, EntryStatus.AGENT).get("status"),
        condition(entry, EntryStatus.AGENT).get("reason")));
    assertEquals(java.util.Optional.of("foo-" + VM1), registry.entryOf("bar", "foo", VM1));
    String version = (String) ((Map<String, Object>) entry.get("metadata")).get("resourceVersion");
    assertTrue(registry.register("bar", "foo", VM1, List.of("10.0.0.9")));
    assertEquals(version, ((Map<String, Object>) mesh.entry(VM1).get("metadata")).get("resourceVersion"),
        "enrolling again writes nothing");
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.9")));
    assertEquals("True", healthy(mesh.entry(VM1)).get("status"));
    assertEquals(java.util.Optional.empty(), registry.entryOf("bar", "foo", "ffffffffffffffffffffffffffffffff"));
  }

  @Test
  void anEntryOfTheSameNameThatIsNotTheServicesIsLeftAlone() throws Exception {
    Map<String, Object> foreign = new java.util.LinkedHashMap<>(Map.of("apiVersion", "networking.istio.io/v1",
        "kind", "WorkloadEntry", "metadata", Map.of("name", "foo-" + VM1, "namespace", "bar"),
        "spec", Map.of("address", "10.9.9.9")));
    client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(client
        .getKubernetesSerialization().convertValue(foreign, io.fabric8.kubernetes.api.model.GenericKubernetesResource
            .class)).create();
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    assertNull(mesh.entry(VM1).get("status"), "not written");
    assertTrue(registry.problems().get("bar/foo-" + VM1).contains("is not the service's"), registry.problems()
        .toString());
    assertFalse(registry.register("bar", "foo", VM1, List.of("10.0.0.7")));
    assertEquals(java.util.Optional.empty(), registry.entryOf("bar", "foo", VM1), "a bundle never names it");
  }

  /** apt remove on the VM: the entry goes, and the STOPPING report sent just before does not bring it back. */
  @Test
  void aDeregisteredVmsEntryIsDeletedAndStaysDeletedUntilItReportsAgain() throws Exception {
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    Instant before = mesh.clock.instant();
    mesh.clock.advance(Duration.ofSeconds(1));
    assertEquals(new HealthSink.Deregistration.Removed(), registry.deregister("bar", "foo", VM1));
    assertNull(mesh.entry(VM1));
    registry.accepted(GRANT, report("STOPPING", "active/running", true, List.of("10.0.0.7")), before);
    await(registry::idle);
    assertNull(mesh.entry(VM1), "a report from before the deregistration is not written");
    assertEquals(new HealthSink.Deregistration.Absent(), registry.deregister("bar", "foo", VM1));

    mesh.clock.advance(Duration.ofSeconds(1));
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    assertEquals("True", healthy(mesh.entry(VM1)).get("status"), "a reinstalled agent registers again");
  }

  /**
   * A group whose operators prefer istiod's auto-registration: no entry of the service's (istiod makes its own on
   * connect), the bundle asks istiod to register, and the VM's state is kept in a Lease of its own.
   */
  @Test
  void aGroupIstiodRegistersGetsNoEntryAndItsVmsStateIsKeptInALease() throws Exception {
    io.fabric8.kubernetes.api.model.GenericKubernetesResource group = client.genericKubernetesResources(
        MeshOnMockApi.groups("v1")).inNamespace("bar").withName("foo").get();
    group.getMetadata().setAnnotations(Map.of(io.istiovmagent.onboarding.mesh.EntryPlan.REGISTRATION, "istiod"));
    client.genericKubernetesResources(MeshOnMockApi.groups("v1")).inNamespace("bar").resource(group).update();

    assertFalse(registry.register("bar", "foo", VM1, List.of("10.0.0.7")), "no entry for a bundle to name");
    send(report("HEALTHY", "active/running", true, List.of("10.0.0.7")));
    assertNull(mesh.entry(VM1), "the service makes no entry: istiod does");
    io.fabric8.kubernetes.api.model.GenericKubernetesResource lease = client.genericKubernetesResources(
        EntryRegistry.LEASES).inNamespace("bar").withName("foo-" + VM1).get();
    String conditions = lease.getMetadata().getAnnotations().get(
        io.istiovmagent.onboarding.mesh.EntryPlan.CONDITIONS_ANNOTATION);
    assertTrue(conditions.contains("\"type\":\"Healthy\",\"status\":\"True\""), conditions);
    assertTrue(conditions.contains("sidecar=active/running"), conditions);
    Map<String, Object> spec = (Map<String, Object>) lease.getAdditionalProperties().get("spec");
    assertEquals(VM1, spec.get("holderIdentity"));
    assertEquals("2026-12-07T10:00:00.000000Z", spec.get("renewTime"), "renewed when last seen");
    assertEquals(java.util.Optional.empty(), registry.entryOf("bar", "foo", VM1));

    mesh.clock.advance(Duration.ofSeconds(1));
    send(report("UNHEALTHY", "failed/failed", false, List.of("10.0.0.7")));
    assertTrue(client.genericKubernetesResources(EntryRegistry.LEASES).inNamespace("bar").withName("foo-" + VM1)
        .get().getMetadata().getAnnotations().get(io.istiovmagent.onboarding.mesh.EntryPlan.CONDITIONS_ANNOTATION)
        .contains("SidecarDown"));
    assertEquals(new HealthSink.Deregistration.Removed(), registry.deregister("bar", "foo", VM1));
    assertNull(client.genericKubernetesResources(EntryRegistry.LEASES).inNamespace("bar").withName("foo-" + VM1)
        .get(), "deregistered: the Lease goes too");
  }
}
