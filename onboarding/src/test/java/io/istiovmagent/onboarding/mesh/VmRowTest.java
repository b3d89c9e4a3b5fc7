package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class VmRowTest {
  private static final String VM = "0123456789abcdef0123456789abcdef";
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final AgentState STATE = new AgentState("UNHEALTHY", "failed/failed", false, 3L, false,
      "5f1d0c9e2a7b", T0.plusSeconds(2460), T0.plusSeconds(86_400 * 300), "istio.service: exited, status=1", T0,
      T0.minusSeconds(600), 60L, "0.1.0", List.of(new AgentState.Change(T0.minusSeconds(600), "Serving"),
          new AgentState.Change(T0, "SidecarDown")));

  /** A map that may hold JSON nulls, as Jackson gives them: key, value, key, value... */
  private static Map<String, Object> obj(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static List<Object> list(Object... items) {
    return new ArrayList<>(Arrays.asList(items));
  }

  private static Map<String, Object> entry(Object status) {
    return obj("apiVersion", "networking.istio.io/v1", "kind", "WorkloadEntry",
        "metadata", obj("name", "foo-" + VM, "namespace", "bar",
            "labels", obj(EntryPlan.MACHINE_LABEL, VM, EntryPlan.MANAGED_BY, EntryPlan.MANAGER),
            "ownerReferences", list(obj("apiVersion", "networking.istio.io/v1", "kind", "WorkloadGroup",
                "name", "foo", "uid", "u-1", "controller", true))),
        "spec", obj("address", "10.0.0.7", "serviceAccount", "vm-sa"),
        "status", status);
  }

  private static Map<String, Object> conditions(Object... conditions) {
    return obj("conditions", list(conditions));
  }

  private static Map<String, Object> healthy(String status, String reason) {
    return obj("type", "Healthy", "status", status, "lastProbeTime", T0.toString(),
        "lastTransitionTime", T0.toString(), "reason", reason, "message", "istio.service is failed/failed");
  }

  private static Map<String, Object> agent(Object reason, Object message, Object lastProbeTime) {
    return obj("type", AgentState.TYPE, "status", "False", "lastProbeTime", lastProbeTime,
        "lastTransitionTime", T0.toString(), "reason", reason, "message", message);
  }

  @Test
  void anEntryTheServiceWroteGivesEveryField() {
    VmRow row = VmRow.of(entry(conditions(healthy("False", "SidecarDown"),
        agent("Unhealthy", STATE.message(), "2026-12-07T10:00:30Z"))));
    assertEquals(new VmRow("bar", "foo", VM, "foo-" + VM, "10.0.0.7", "False", "SidecarDown", T0, "Unhealthy",
        "UNHEALTHY", "failed/failed", false, 3L, false, "5f1d0c9e2a7b", T0.plusSeconds(2460),
        T0.plusSeconds(86_400 * 300), Instant.parse("2026-12-07T10:00:30Z"), "istio.service: exited, status=1", T0,
        T0.minusSeconds(600), "0.1.0", List.of(new VmRow.Transition(T0.minusSeconds(600), "Serving"),
            new VmRow.Transition(T0, "SidecarDown"))), row);
    assertEquals("False/SidecarDown", row.health());
  }

  @Test
  void theJsonHasEveryFieldInAFixedOrderWithNullsAndRfc3339Times() {
    VmRow row = VmRow.of(entry(conditions(healthy("False", "SidecarDown"),
        agent("Unhealthy", STATE.message(), "2026-12-07T10:00:30Z"))));
    Map<String, Object> json = row.json();
    assertEquals(List.of("namespace", "group", "machineId", "entry", "address", "healthy", "healthReason",
        "healthSince", "agentReason", "status", "sidecar", "ready", "restarts", "crashLoop", "bundle", "tokenExpires",
        "rootCertExpires", "lastSeen", "error", "errorAt", "firstHealthy", "agentVersion", "history"),
        List.copyOf(json.keySet()));
    assertEquals("2026-12-07T10:41:00Z", json.get("tokenExpires"));
    assertEquals(List.of(obj("at", "2026-12-07T09:50:00Z", "reason", "Serving"),
        obj("at", "2026-12-07T10:00:00Z", "reason", "SidecarDown")), json.get("history"));
    Map<String, Object> unknown = VmRow.of(obj()).json();
    assertEquals(json.keySet(), unknown.keySet());
    assertNull(unknown.get("lastSeen"));
    assertEquals(false, unknown.get("crashLoop"));
    assertEquals(List.of(), unknown.get("history"));
  }

  /** A VM enrolled that never reported: the service's own first message. */
  @Test
  void anEnrolledVmHasItsReasonAndNoState() {
    VmRow row = VmRow.of(entry(conditions(healthy("False", "Enrolled"),
        agent("Enrolled", "first-healthy=never", T0.toString()))));
    assertEquals("Enrolled", row.agentReason());
    assertEquals("False/Enrolled", row.health());
    assertNull(row.status());
    assertNull(row.firstHealthy());
    assertEquals(T0, row.lastSeen());
  }

  static Stream<Arguments> garbage() {
    VmRow known = new VmRow("bar", "foo", VM, "foo-" + VM, "10.0.0.7", null, null, null, null, null, null, null,
        null, false, null, null, null, null, null, null, null, null, List.of());
    VmRow nothing = new VmRow(null, null, null, null, null, null, null, null, null, null, null, null, null, false,
        null, null, null, null, null, null, null, null, List.of());
    return Stream.of(
        Arguments.of("an empty object", obj(), nothing),
        Arguments.of("JSON null for metadata, spec and status", obj("metadata", null, "spec", null, "status", null),
            nothing),
        Arguments.of("metadata of the wrong types", obj("metadata", obj("name", 7, "namespace", list("bar"),
            "labels", "app=x", "ownerReferences", obj("kind", "WorkloadGroup")), "spec", "10.0.0.7"), nothing),
        Arguments.of("no status", entry(null), known),
        Arguments.of("conditions that are not a list", entry(obj("conditions", "Healthy")), known),
        Arguments.of("conditions that are not objects, or have no type", entry(conditions(null, 42, "Healthy",
            obj("type", null, "status", "True"))), known),
        Arguments.of("a message that is not ours", entry(conditions(agent(null, "the agent is fine", null))), known),
        Arguments.of("a message that is not logfmt", entry(conditions(agent(null, "status=\"unterminated", null))),
            known),
        Arguments.of("JSON null for the message", entry(conditions(agent(null, null, null))), known),
        Arguments.of("a number for the message", entry(conditions(agent(null, 12, null))), known),
        Arguments.of("times that are not times", entry(conditions(obj("type", "Healthy", "status", null,
            "lastTransitionTime", "yesterday"), agent(null, null, 1_700_000_000))), known));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("garbage")
  void garbageGivesUnknownsNeverAnException(String what, Map<String, Object> entry, VmRow expected) {
    VmRow row = VmRow.of(entry);
    assertEquals(expected, row, what);
    assertEquals("-", row.health());
  }

  @Test
  void fieldsOfOurMessageThatCannotBeReadAreUnknownAndTheRestIsKept() {
    String message = "status=HEALTHY sidecar=active/running ready=maybe restarts=lots token-expires=soon "
        + "first-healthy=never history=\"nonsense,2026-12-07T10:00:00Z Serving\"";
    VmRow row = VmRow.of(entry(conditions(agent("NeverHealthy", message, "not a time"))));
    assertEquals("HEALTHY", row.status());
    assertEquals("active/running", row.sidecar());
    assertEquals(false, row.ready(), "anything but true is not ready");
    assertNull(row.restarts());
    assertNull(row.tokenExpires());
    assertNull(row.lastSeen());
    assertEquals(List.of(new VmRow.Transition(T0, "Serving")), row.history());
  }

  @Test
  void theGroupIsTheOwnerElseTheNameWithoutTheMachine() {
    Map<String, Object> e = entry(null);
    Map<String, Object> meta = obj("name", "billing-" + VM, "namespace", "bar",
        "labels", obj(EntryPlan.MACHINE_LABEL, VM),
        "ownerReferences", list(obj("kind", "Deployment", "name", "not-a-group")));
    e.put("metadata", meta);
    assertEquals("billing", VmRow.of(e).group());
    meta.put("name", VM);
    assertNull(VmRow.of(e).group(), "a name that is the machine alone names no group");
  }

  @Test
  void textIsCutAndOffsetTimesAreRead() {
    Map<String, Object> e = entry(conditions(obj("type", "Healthy", "status", "False", "reason", "x".repeat(5000),
        "lastTransitionTime", "2026-12-07T11:00:00+01:00")));
    VmRow row = VmRow.of(e);
    assertEquals(VmRow.MAX_TEXT, row.healthReason().length());
    assertEquals(T0, row.healthSince());
  }

  @Test
  void rowsSortByNamespaceGroupAndMachineWithUnknownsLast() {
    VmRow a = VmRow.of(entry(null));
    VmRow b = new VmRow("bar", "foo", "1" + VM.substring(1), null, null, null, null, null, null, null, null, null,
        null, false, null, null, null, null, null, null, null, null, List.of());
    VmRow c = new VmRow("apps", "zz", VM, null, null, null, null, null, null, null, null, null, null, false, null,
        null, null, null, null, null, null, null, List.of());
    VmRow unknown = VmRow.of(obj());
    List<VmRow> rows = new ArrayList<>(List.of(unknown, b, a, c));
    rows.sort(VmRow.ORDER);
    assertEquals(List.of(c, a, b, unknown), rows);
  }

  /** A VM of a group istiod registers: its state Lease, the conditions in an annotation, no address. */
  @Test
  void aStateLeaseGivesItsVmsRowWithoutAnAddress() throws Exception {
    String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(list(
        healthy("False", "SidecarDown"), agent("Unhealthy", STATE.message(), "2026-12-07T10:00:30Z")));
    Map<String, Object> lease = obj("apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
        "metadata", obj("name", "foo-" + VM, "namespace", "bar",
            "labels", obj(EntryPlan.MACHINE_LABEL, VM, EntryPlan.MANAGED_BY, EntryPlan.MANAGER),
            "annotations", obj(EntryPlan.CONDITIONS_ANNOTATION, json),
            "ownerReferences", list(obj("kind", "WorkloadGroup", "name", "foo"))),
        "spec", obj("holderIdentity", VM, "renewTime", "2026-12-07T10:00:30.000000Z"));
    VmRow row = VmRow.of(lease);
    assertEquals(List.of("bar", "foo", VM, "False/SidecarDown", "Unhealthy"), List.of(row.namespace(), row.group(),
        row.machineId(), row.health(), row.agentReason()));
    assertNull(row.address(), "istiod's entry has it");
    assertEquals(Instant.parse("2026-12-07T10:00:30Z"), row.lastSeen());
    Map<String, Object> garbled = new LinkedHashMap<>(lease);
    garbled.put("metadata", obj("name", "foo-" + VM, "annotations", obj(EntryPlan.CONDITIONS_ANNOTATION, "{not")));
    assertEquals("-", VmRow.of(garbled).health(), "garbled: unknown, never an exception");
  }
}
