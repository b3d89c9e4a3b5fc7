package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.OnboardingMain;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.VmRow;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code istio-vm-onboarding vms}, through a kubeconfig to fabric8's mock API server, as an operator runs it. */
@EnableKubernetesMockClient(crud = true)
class VmsCommandTest {
  /** The service's own condition type (AgentState.TYPE), as an entry carries it. */
  private static final String AGENT = "istio-vm-agent.io/Agent";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String LIST_ALL = "/apis/networking.istio.io/v1/workloadentries?labelSelector="
      + "app.kubernetes.io%2Fmanaged-by%3Distio-vm-onboarding";

  KubernetesMockServer server;
  KubernetesClient client;
  @TempDir
  Path tmp;
  private FleetOnMockApi fleet;
  private Path kubeconfig;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void cluster() throws Exception {
    fleet = new FleetOnMockApi(server, client);
    kubeconfig = fleet.mesh.kubeconfig(tmp);
  }

  @AfterEach
  void stop() {
    fleet.close();
  }

  private Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(Arrays.asList(args));
    all.add("--kubeconfig");
    all.add(kubeconfig.toString());
    int code = OnboardingMain.run(fleet.mesh.clock, new PrintWriter(out, true), new PrintWriter(err, true),
        all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void listsEveryVmInEveryNamespaceSortedWithAgesByItsClock() throws Exception {
    fleet.reported();
    Run r = run("vms");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(4, lines.size(), r.out());
    assertTrue(lines.get(0).matches("NAMESPACE +GROUP +MACHINE +ADDRESS +HEALTH +SIDECAR +TOKEN-EXPIRES +LAST-SEEN "
        + "+LAST-ERROR"), lines.get(0));
    assertTrue(lines.get(1).matches("bar +foo +aaaaaaaaaaaa +10\\.0\\.0\\.7 +True/Serving +active/running +41m +60s "
        + "+-"), lines.get(1));
    assertTrue(lines.get(2).matches("bar +foo +bbbbbbbbbbbb +10\\.0\\.0\\.8 +False/SidecarDown +failed/failed +38m "
        + "+0s +istio\\.service is failed: Main process\\.\\.\\."), lines.get(2));
    assertTrue(lines.get(3).matches("baz +web +cccccccccccc +10\\.0\\.1\\.9 +False/EnvoyNotReady +active/running "
        + "+12m +60s +Envoy not ready \\(HTTP 503\\)"), lines.get(3));
  }

  @Test
  void oneNamespaceOrGroupAndWhenThereIsNone() throws Exception {
    fleet.reported();
    Run bar = run("vms", "-n", "bar");
    assertEquals(3, bar.out().lines().count(), bar.out());
    assertTrue(bar.out().startsWith("GROUP "), "no NAMESPACE column for one namespace: " + bar.out());
    Run web = run("vms", "--group", "web");
    assertEquals(2, web.out().lines().count(), web.out());
    assertTrue(web.out().contains("cccccccccccc"), web.out());
    Run none = run("vms", "-n", "bar", "-g", "web");
    assertEquals(0, none.code());
    assertEquals("", none.out());
    assertEquals("No VMs registered in bar in group web.\n", none.err());
  }

  @Test
  void wideShowsTheWholeMachineIdTheAgentsReasonAndTheEntry() throws Exception {
    fleet.reported();
    Run r = run("vms", "-o", "wide", "-A");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().findFirst().orElseThrow().matches(".* RESTARTS +AGENT +TOKEN-EXPIRES "
        + "+ROOT-CERT-EXPIRES +BUNDLE +LAST-SEEN +LAST-ERROR +ENTRY"), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("baz +web +" + FleetOnMockApi.NEVER + " .* 0 +NeverHealthy "
        + "+12m +364d +sha256:5f1d0 .* web-" + FleetOnMockApi.NEVER)), r.out());
  }

  @Test
  void jsonIsTheRowsWithEveryField() throws Exception {
    fleet.reported();
    Run r = run("vms", "-o", "json");
    assertEquals(0, r.code(), r.err());
    List<Map<String, Object>> expected = new ClusterVms(client).list(Optional.empty()).stream().map(VmRow::json)
        .toList();
    assertEquals(JSON.readTree(JSON.writeValueAsString(expected)), JSON.readTree(r.out()));
    assertEquals(3, JSON.readTree(r.out()).size());
    assertEquals(JSON.createArrayNode(), JSON.readTree(run("vms", "-o", "json", "-n", "nowhere").out()),
        "an empty array, not nothing");
  }

  /** Whoever may edit an entry may put anything in it; none of it reaches the terminal as a control sequence. */
  @Test
  void anEntryHoldingEscapesPrintsNone() throws Exception {
    Map<String, Object> entry = Map.of("apiVersion", "networking.istio.io/v1", "kind", "WorkloadEntry",
        "metadata", Map.of("name", "foo-evil", "namespace", "bar", "labels", Map.of(EntryPlan.MANAGED_BY,
            EntryPlan.MANAGER, EntryPlan.MACHINE_LABEL, "evil")),
        "spec", Map.of("address", "10.6.6.6\u001b]0;owned\u0007"),
        "status", Map.of("conditions", List.of(Map.of("type", AGENT, "status", "False",
            "reason", "Unhealthy\u001b[2J", "message", "first-healthy=never error=\"\u001b[31mred\u202e\""))));
    GenericKubernetesResource e = client.getKubernetesSerialization().convertValue(entry,
        GenericKubernetesResource.class);
    client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(e).create();
    client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(e).updateStatus();
    for (String output : new String[] {"wide", "json"}) {
      Run r = run("vms", "-o", output);
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("evil"), r.out());
      assertFalse(r.out().chars().anyMatch(c -> c == 0x1b || c == 0x07 || c == 0x202e),
          output + ": " + r.out().replaceAll("[^ -~\n]", "#"));
    }
  }

  @Test
  void refusalsAndMisuseSayWhatToDo() throws Exception {
    assertEquals(64, run("vms", "-n", "bar", "-A").code());
    Run yaml = run("vms", "-o", "yaml");
    assertEquals(64, yaml.code());
    assertTrue(yaml.err().contains("-o takes wide or json"), yaml.err());
    assertEquals(64, run("vms", "-n", "Not_A_Namespace").code());

    server.expect().get().withPath(LIST_ALL).andReturn(403, new StatusBuilder().withCode(403)
        .withReason("Forbidden").withMessage("workloadentries is forbidden").build()).once();
    Run forbidden = run("vms");
    assertEquals(77, forbidden.code(), forbidden.err());
    assertTrue(forbidden.err().contains("you need the permission to list workloadentries.networking.istio.io in all "
        + "namespaces (or give -n NS)"), forbidden.err());

    server.expect().get().withPath(LIST_ALL).andReturn(404, new StatusBuilder().withCode(404)
        .withReason("NotFound").withMessage("the server could not find the requested resource").build()).once();
    Run noKind = run("vms");
    assertEquals(69, noKind.code(), noKind.err());
    assertTrue(noKind.err().contains("the cluster has no WorkloadEntry kind"), noKind.err());
  }

  @Test
  void aKubeconfigThatIsNotThereIsAConfigurationError() throws Exception {
    Files.delete(kubeconfig);
    Run missing = run("vms");
    assertEquals(78, missing.code());
    assertTrue(missing.err().contains("--kubeconfig " + kubeconfig + " does not exist"), missing.err());
  }
}
