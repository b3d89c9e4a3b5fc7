package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EntryPlanTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MACHINE = "0123456789abcdef0123456789abcdef";

  /** The entry is the group's template with the VM's address, the merged labels and the health-checks annotation. */
  @Test
  @SuppressWarnings("unchecked")
  void theEntryIsTheGroupsTemplateForThisMachine() throws Exception {
    Map<String, Object> group = YAML.readValue("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadGroup
        metadata: {name: billing, namespace: vm-apps, uid: 5e1f-uid}
        spec:
          metadata:
            labels: {app: billing, tier: back}
            annotations: {team: payments}
          template:
            serviceAccount: billing-vm
            ports: {http: 8080}
            network: vm-net
            locality: eu/west
            weight: 3
            labels: {app: overridden-by-metadata, version: v1}
          probe: {httpGet: {port: 8080}}
        """, Map.class);
    Map<String, Object> entry = EntryPlan.entry(group, MACHINE, "10.0.0.7");
    assertEquals(YAML.readValue("""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: billing-0123456789abcdef0123456789abcdef
          namespace: vm-apps
          labels: {app: billing, app.kubernetes.io/managed-by: istio-vm-onboarding,
                   istio-vm-agent.io/machine-id: 0123456789abcdef0123456789abcdef, tier: back, version: v1}
          annotations: {proxy.istio.io/health-checks-enabled: "true", team: payments}
          ownerReferences:
          - {apiVersion: networking.istio.io/v1, kind: WorkloadGroup, name: billing, uid: 5e1f-uid, controller: true}
        spec:
          serviceAccount: billing-vm
          ports: {http: 8080}
          network: vm-net
          locality: eu/west
          weight: 3
          address: 10.0.0.7
          labels: {app: billing, app.kubernetes.io/managed-by: istio-vm-onboarding,
                   istio-vm-agent.io/machine-id: 0123456789abcdef0123456789abcdef, tier: back, version: v1}
        """, Map.class), JSON.readValue(JSON.writeValueAsString(entry), Map.class));
    assertEquals(Map.of("http", 8080), ((Map<String, Object>) ((Map<String, Object>) group.get("spec"))
        .get("template")).get("ports"), "the group is not changed");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "first IPv4 by default            | fd00::7,10.0.0.7,10.0.0.8 |      | 10.0.0.7",
      "IPv6 when the group asks         | 10.0.0.7,fd00::7          | ipv6 | fd00::7",
      "IPv4 when the group asks for v6 but the VM has none | 10.0.0.7 | ipv6 | 10.0.0.7",
      "loopback and link-local skipped  | 127.0.0.1,fe80::1%eth0,169.254.1.1,192.0.2.4 | | 192.0.2.4",
      "a name is not an address         | vm-1.example.com,fd00::9  |      | fd00::9",
      "nothing usable                   | 127.0.0.1,::1              |      | ",
  })
  void theAddressPolicy(String what, String reported, String family, String expected) {
    assertEquals(Optional.ofNullable(expected), EntryPlan.address(Arrays.asList(reported.split(",")), family), what);
  }

  @Test
  void noAddressesReported() {
    assertEquals(Optional.empty(), EntryPlan.address(null, null));
    assertEquals(Optional.empty(), EntryPlan.address(List.of(), "ipv4"));
  }

  /** A group istiod registers: no entry of ours, the VM's state in a Lease that the group owns. */
  @Test
  void aGroupIstiodRegistersKeepsItsVmsStateInALeaseItOwns() throws Exception {
    @SuppressWarnings("unchecked")
    Map<String, Object> group = YAML.readValue("""
        apiVersion: networking.istio.io/v1beta1
        kind: WorkloadGroup
        metadata:
          name: billing
          namespace: vm-apps
          uid: 5e1f-uid
          annotations: {istio-vm-agent.io/registration: istiod}
        spec: {template: {serviceAccount: billing-vm}}
        """, Map.class);
    assertTrue(EntryPlan.istiodRegisters(group));
    assertEquals("""
        {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"billing-%1$s",\
        "namespace":"vm-apps","labels":{"app.kubernetes.io/managed-by":"istio-vm-onboarding",\
        "istio-vm-agent.io/machine-id":"%1$s"},"ownerReferences":[{"apiVersion":"networking.istio.io/v1beta1",\
        "kind":"WorkloadGroup","name":"billing","uid":"5e1f-uid","controller":true}]},\
        "spec":{"holderIdentity":"%1$s"}}""".formatted(MACHINE), JSON.writeValueAsString(
        EntryPlan.stateLease(group, MACHINE)));
    assertFalse(EntryPlan.istiodRegisters(Map.of("metadata", Map.of("annotations", Map.of(
        EntryPlan.REGISTRATION, "service")))));
    assertFalse(EntryPlan.istiodRegisters(Map.of()));
  }
}
