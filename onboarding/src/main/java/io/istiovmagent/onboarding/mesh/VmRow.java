package io.istiovmagent.onboarding.mesh;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One VM as the fleet view shows it (the {@code vms} command, GET /v1/vms in the Kubernetes mode, the page), read
 * from its WorkloadEntry as the API returns it: where it is, whether istiod routes to it ({@code Healthy}), and its
 * agent's state as the service's own condition {@value AgentState#TYPE} records it. An entry is anyone's to edit, so
 * whatever cannot be read (no status, JSON null, a message that is not ours, a bad time) is null here, never an
 * exception. Pure.
 */
public record VmRow(String namespace, String group, String machineId, String entry, String address,
    String healthy, String healthReason, Instant healthSince, String agentReason, String status, String sidecar,
    Boolean ready, Long restarts, boolean crashLoop, String bundle, Instant tokenExpires, Instant rootCertExpires,
    Instant lastSeen, String error, Instant errorAt, Instant firstHealthy, String agentVersion,
    List<Transition> history) {
  /** The fleet's order: namespace, group, machine (unknowns last), then the entry's name. */
  public static final Comparator<VmRow> ORDER = Comparator
      .comparing(VmRow::namespace, Comparator.nullsLast(Comparator.<String>naturalOrder()))
      .thenComparing(VmRow::group, Comparator.nullsLast(Comparator.<String>naturalOrder()))
      .thenComparing(VmRow::machineId, Comparator.nullsLast(Comparator.<String>naturalOrder()))
      .thenComparing(VmRow::entry, Comparator.nullsLast(Comparator.<String>naturalOrder()));
  /** The most of any one text kept: an entry's fields are bounded by the API server only (about 1.5 MB). */
  static final int MAX_TEXT = 300;

  /** A past reason of {@code Healthy} and when it took effect (the agent condition's {@code history}). */
  public record Transition(Instant at, String reason) {}

  public VmRow {
    history = List.copyOf(history);
  }

  /**
   * The row of one WorkloadEntry, or of the state Lease of a VM in a group istiod registers (no address: istiod's
   * entry has it), {@code entry} as fabric8's GenericKubernetesResource converts to a map.
   */
  public static VmRow of(Map<?, ?> entry) {
    Map<?, ?> meta = map(entry.get("metadata"));
    Map<?, ?> spec = map(entry.get("spec"));
    List<?> conditions = "Lease".equals(entry.get("kind")) ? leaseConditions(meta)
        : entry.get("status") instanceof Map<?, ?> s && s.get("conditions") instanceof List<?> l ? l : List.of();
    Map<?, ?> healthy = condition(conditions, Condition.HEALTHY);
    Map<?, ?> agent = condition(conditions, AgentState.TYPE);
    Optional<AgentState> state = AgentState.parse(text(agent.get("message"), Integer.MAX_VALUE));
    String name = text(meta.get("name"));
    String machine = text(map(meta.get("labels")).get(EntryPlan.MACHINE_LABEL));
    return new VmRow(text(meta.get("namespace")), group(meta, name, machine), machine, name,
        text(spec.get("address")), text(healthy.get("status")), text(healthy.get("reason")),
        time(healthy.get("lastTransitionTime")), text(agent.get("reason")),
        state.map(AgentState::status).map(VmRow::text).orElse(null),
        state.map(AgentState::sidecar).map(VmRow::text).orElse(null), state.map(AgentState::ready).orElse(null),
        state.map(AgentState::restarts).orElse(null), state.map(AgentState::crashLoop).orElse(false),
        state.map(AgentState::bundle).map(VmRow::text).orElse(null),
        state.map(AgentState::tokenExpires).orElse(null), state.map(AgentState::rootCertExpires).orElse(null),
        time(agent.get("lastProbeTime")), state.map(AgentState::error).map(VmRow::text).orElse(null),
        state.map(AgentState::errorAt).orElse(null), state.map(AgentState::firstHealthy).orElse(null),
        state.map(AgentState::version).map(VmRow::text).orElse(null),
        state.map(AgentState::history).orElse(List.of()).stream()
            .map(c -> new Transition(c.at(), text(c.reason()))).toList());
  }

  /** {@code Healthy}'s status and reason as one word, e.g. {@code False/SidecarDown}; "-" without the condition. */
  public String health() {
    return healthy == null ? "-" : healthReason == null ? healthy : healthy + "/" + healthReason;
  }

  /**
   * The row as JSON (docs/protocol.md, GET /v1/vms; {@code vms -o json}): every field always present, null when not
   * known, times in RFC 3339, {@code history} oldest first as {@code {"at", "reason"}}.
   */
  public Map<String, Object> json() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("namespace", namespace);
    m.put("group", group);
    m.put("machineId", machineId);
    m.put("entry", entry);
    m.put("address", address);
    m.put("healthy", healthy);
    m.put("healthReason", healthReason);
    m.put("healthSince", rfc3339(healthSince));
    m.put("agentReason", agentReason);
    m.put("status", status);
    m.put("sidecar", sidecar);
    m.put("ready", ready);
    m.put("restarts", restarts);
    m.put("crashLoop", crashLoop);
    m.put("bundle", bundle);
    m.put("tokenExpires", rfc3339(tokenExpires));
    m.put("rootCertExpires", rfc3339(rootCertExpires));
    m.put("lastSeen", rfc3339(lastSeen));
    m.put("error", error);
    m.put("errorAt", rfc3339(errorAt));
    m.put("firstHealthy", rfc3339(firstHealthy));
    m.put("agentVersion", agentVersion);
    m.put("history", history.stream().map(c -> {
      Map<String, Object> h = new LinkedHashMap<>();
      h.put("at", rfc3339(c.at()));
      h.put("reason", c.reason());
      return h;
    }).toList());
    return m;
  }

  /** The group: the entry's owner of kind WorkloadGroup, else the name without its machine (GROUP-MACHINE-ID). */
  private static String group(Map<?, ?> meta, String name, String machine) {
    if (meta.get("ownerReferences") instanceof List<?> owners) {
      for (Object o : owners) {
        Map<?, ?> owner = map(o);
        String ownerName = text(owner.get("name"));
        if ("WorkloadGroup".equals(owner.get("kind")) && ownerName != null) {
          return ownerName;
        }
      }
    }
    if (name != null && machine != null && name.endsWith("-" + machine) && name.length() > machine.length() + 1) {
      return name.substring(0, name.length() - machine.length() - 1);
    }
    return null;
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** A state Lease's conditions, from its annotation (JSON); none when it is missing or garbled. */
  private static List<?> leaseConditions(Map<?, ?> meta) {
    Object json = map(meta.get("annotations")).get(EntryPlan.CONDITIONS_ANNOTATION);
    try {
      return json instanceof String j && JSON.readValue(j, Object.class) instanceof List<?> l ? l : List.of();
    } catch (java.io.IOException e) {
      return List.of();
    }
  }

  private static Map<?, ?> condition(List<?> conditions, String type) {
    for (Object o : conditions) {
      if (o instanceof Map<?, ?> c && type.equals(c.get("type"))) {
        return c;
      }
    }
    return Map.of();
  }

  private static Map<?, ?> map(Object o) {
    return o instanceof Map<?, ?> m ? m : Map.of();
  }

  private static String text(Object o) {
    return text(o, MAX_TEXT);
  }

  private static String text(Object o, int max) {
    if (!(o instanceof String s)) {
      return null;
    }
    return s.length() > max ? s.substring(0, max - 3) + "..." : s;
  }

  private static String rfc3339(Instant t) {
    return t == null ? null : t.toString();
  }

  private static Instant time(Object o) {
    if (!(o instanceof String s)) {
      return null;
    }
    try {
      return Instant.parse(s);
    } catch (DateTimeParseException e) {
      try {
        return OffsetDateTime.parse(s).toInstant();
      } catch (DateTimeParseException notATime) {
        return null;
      }
    }
  }
}
