package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.server.OnboardingServer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GET /v1/vms in the Kubernetes mode: every VM as the cluster's WorkloadEntries show it, on every replica. */
@EnableKubernetesMockClient(crud = true)
class EntryFleetTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  KubernetesMockServer server;
  KubernetesClient client;
  @TempDir
  Path tmp;
  private FleetOnMockApi fleet;

  @BeforeEach
  void start() throws Exception {
    fleet = new FleetOnMockApi(server, client);
  }

  @AfterEach
  void stop() {
    fleet.close();
  }

  /** The metrics' VMs by state: an agent's last state, STALE for one the sweep found silent, UNKNOWN for garbage. */
  @Test
  void countsTheVmsByStateASilentOneAsStale() throws Exception {
    fleet.reported();
    for (String[] vm : new String[][] {{"ddddddddddddddddddddddddddddddd4", "Silent", "status=HEALTHY"},
        {"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee5", "Healthy", "status=\"<b>not a state</b>\""}}) {
      java.util.Map<String, Object> entry = java.util.Map.of("apiVersion", "networking.istio.io/v1",
          "kind", "WorkloadEntry", "metadata", java.util.Map.of("name", "foo-" + vm[0], "namespace", "bar",
              "labels", java.util.Map.of(EntryPlan.MANAGED_BY, EntryPlan.MANAGER, EntryPlan.MACHINE_LABEL, vm[0])),
          "spec", java.util.Map.of("address", "10.0.0.9"),
          "status", java.util.Map.of("conditions", List.of(java.util.Map.of("type", "istio-vm-agent.io/Agent",
              "status", "False", "reason", vm[1], "message", vm[2]))));
      GenericKubernetesResource r = client.getKubernetesSerialization().convertValue(entry,
          GenericKubernetesResource.class);
      client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(r).create();
      client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(r).updateStatus();
    }
    FleetOnMockApi.await(() -> fleet.cache.all().stream().filter(e -> e.getAdditionalProperties()
        .get("status") != null).count() == 5);
    java.util.Map<String, Long> n = new EntryFleet(fleet.cache, fleet.registry.leaseCache(),
        client.getKubernetesSerialization()).countByState();
    assertEquals(java.util.Map.of("HEALTHY", 1L, "DEGRADED", 0L, "UNHEALTHY", 2L, "STOPPING", 0L, "STALE", 1L,
        "UNKNOWN", 1L), n);
  }

  private static JsonNode vms(OnboardingServer endpoint) throws Exception {
    HandshakeCertificates trust = new HandshakeCertificates.Builder()
        .addTrustedCertificate(endpoint.tls().certificate()).build();
    OkHttpClient http = new OkHttpClient.Builder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
        .callTimeout(20, TimeUnit.SECONDS).build();
    try (Response r = http.newCall(new Request.Builder().url(endpoint.url() + "/v1/vms")
        .header("Authorization", "Bearer " + FleetOnMockApi.ADMIN).build()).execute()) {
      String body = r.body().string();
      assertEquals(200, r.code(), body);
      return JSON.readTree(body);
    }
  }

  @Test
  void everyVmIsListedFromItsEntryWithItsHealthAndItsAgentsState() throws Exception {
    JsonNode body = vms(fleet.reported().serve(tmp));
    assertEquals(List.of("vms", "bundleProblems", "entryProblems", "fleetProblem", "now"),
        fieldNames(body));
    assertTrue(body.get("fleetProblem").isNull(), body.toString());
    assertEquals(FleetOnMockApi.NOW.toString(), body.get("now").asText());
    JsonNode vms = body.get("vms");
    assertEquals(List.of("bar/foo/" + FleetOnMockApi.SERVING, "bar/foo/" + FleetOnMockApi.DOWN,
        "baz/web/" + FleetOnMockApi.NEVER), List.of(key(vms.get(0)), key(vms.get(1)), key(vms.get(2))));

    JsonNode serving = vms.get(0);
    assertEquals("foo-" + FleetOnMockApi.SERVING, serving.get("entry").asText());
    assertEquals("10.0.0.7", serving.get("address").asText());
    assertEquals("True Serving Healthy", health(serving));
    assertEquals("2026-12-07T10:42:00Z", serving.get("tokenExpires").asText());
    assertEquals("2026-12-07T10:00:00Z", serving.get("lastSeen").asText());
    assertEquals("sha256:5f1d0", serving.get("bundle").asText());

    JsonNode down = vms.get(1);
    assertEquals("False SidecarDown Unhealthy", health(down));
    assertEquals("failed/failed", down.get("sidecar").asText());
    assertEquals(3, down.get("restarts").asLong());
    assertTrue(down.get("error").asText().startsWith("istio.service is failed"), down.toString());
    assertEquals("2026-12-07T10:01:00Z", down.get("errorAt").asText());
    assertEquals("[{\"at\":\"2026-12-07T10:00:00Z\",\"reason\":\"Serving\"},"
        + "{\"at\":\"2026-12-07T10:01:00Z\",\"reason\":\"SidecarDown\"}]", down.get("history").toString());

    JsonNode never = vms.get(2);
    assertEquals("False EnvoyNotReady NeverHealthy", health(never));
    assertTrue(never.get("firstHealthy").isNull());
  }

  /** A replica that took no report lists the same VMs: the list is the cluster's, not the replica's memory. */
  @Test
  void aReplicaThatTookNoReportListsTheSameVms() throws Exception {
    JsonNode first = vms(fleet.reported().serve(tmp)).get("vms");
    EntryCache other = new EntryCache(client, fleet.mesh.log);
    EntryCache leases = new EntryCache(client, EntryRegistry.LEASES, fleet.mesh.log);
    try {
      EntryFleet replica = new EntryFleet(other, leases, client.getKubernetesSerialization());
      FleetOnMockApi.await(() -> replica.vms().size() == 3);
      assertEquals(first.toString(), JSON.writeValueAsString(replica.vms()));
    } finally {
      other.close();
      leases.close();
    }
  }

  @Test
  void aFleetThatCannotBeListedSaysWhyAndWhatItNeeds() throws Exception {
    server.expect().get().withPath("/apis/networking.istio.io/v1/workloadentries?labelSelector="
        + "app.kubernetes.io%2Fmanaged-by%3Distio-vm-onboarding&resourceVersion=0").andReturn(403, new StatusBuilder()
        .withCode(403).withReason("Forbidden").withMessage("workloadentries is forbidden").build()).always();
    EntryCache refused = new EntryCache(client, fleet.mesh.log);
    EntryCache leases = new EntryCache(client, EntryRegistry.LEASES, fleet.mesh.log);
    try {
      EntryFleet view = new EntryFleet(refused, leases, client.getKubernetesSerialization());
      FleetOnMockApi.await(() -> view.problem().filter(p -> p.contains("403")).isPresent());
      assertTrue(view.problem().get().contains("needs list and watch on workloadentries in all namespaces"),
          view.problem().get());
      assertEquals(List.of(), view.vms());
    } finally {
      refused.close();
      leases.close();
    }
  }

  private static String key(JsonNode vm) {
    return vm.get("namespace").asText() + "/" + vm.get("group").asText() + "/" + vm.get("machineId").asText();
  }

  private static String health(JsonNode vm) {
    return vm.get("healthy").asText() + " " + vm.get("healthReason").asText() + " " + vm.get("agentReason").asText();
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new java.util.ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }
}
