package io.istiovmagent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.onboarding.mesh.EntryStatus;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Why the service wrote a WorkloadEntry's status, judged from the writes alone (P7 counts them against the formula
 * of docs/kubernetes.md: writes only on transitions, plus one per VM per 10 minutes to prove liveness). Each write is
 * compared with the entry's previous one: the first is its registration ({@code Enrolled}); a change of
 * {@code Healthy} (status or reason) is a transition, what istiod routes by; a change of the service's own agent
 * condition (status or reason, or its message when no liveness write is due) is a change of the agent's state; a
 * write with neither, in the VM's liveness window with nothing written since the window opened (onboarding's
 * {@link EntryStatus#livenessDue}, the service's own rule: once per 10 minutes, at the VM's phase), is a liveness
 * write; anything else is unexplained (a write the formula does not allow). Pure; not thread-safe.
 */
final class EntryWrites {
  /** The service's own condition on an entry (onboarding's AgentState.TYPE). */
  static final String AGENT = "istio-vm-agent.io/Agent";
  /** How late a write may reach the API server after the service decided it (at its own clock). */
  static final Duration IN_FLIGHT = Duration.ofSeconds(5);

  /**
   * Why a write was made. SILENCED is a transition too, the one the leader's silence sweep makes (Healthy False,
   * reason AgentSilent): counted apart, as a VM taken out of traffic for not being heard.
   */
  enum Kind { ENROLLED, TRANSITION, SILENCED, STATE, LIVENESS, UNEXPLAINED }

  /** What a status write carries of the two conditions; null fields where the write has none. */
  record Conditions(String healthyStatus, String healthyReason, String agentStatus, String agentReason,
      String agentMessage, Instant agentProbe) {}

  private final Map<String, Conditions> last = new HashMap<>();

  /** Classifies the status write of {@code entry} ({@code NAMESPACE/NAME}) received at {@code at}, and keeps it. */
  Kind written(String entry, Conditions c, Instant at) {
    Conditions prev = last.put(entry, c);
    if (prev == null) {
      return "Enrolled".equals(c.healthyReason()) ? Kind.ENROLLED : Kind.TRANSITION;
    }
    if (!Objects.equals(prev.healthyStatus(), c.healthyStatus())
        || !Objects.equals(prev.healthyReason(), c.healthyReason())) {
      return "AgentSilent".equals(c.healthyReason()) ? Kind.SILENCED : Kind.TRANSITION;
    }
    if (!Objects.equals(prev.agentStatus(), c.agentStatus()) || !Objects.equals(prev.agentReason(), c.agentReason())) {
      return Kind.STATE;
    }
    Duration phase = EntryStatus.phase(entry);
    if (prev.agentProbe() == null || EntryStatus.livenessDue(prev.agentProbe(), at, phase)
        || EntryStatus.livenessDue(prev.agentProbe(), at.minus(IN_FLIGHT), phase)) {
      return Kind.LIVENESS;
    }
    return Objects.equals(prev.agentMessage(), c.agentMessage()) ? Kind.UNEXPLAINED : Kind.STATE;
  }

  /** The two conditions of a WorkloadEntry as JSON (the body of a PUT to its {@code /status}). */
  static Conditions parse(JsonNode entry) {
    String hs = null;
    String hr = null;
    String as = null;
    String ar = null;
    String am = null;
    Instant ap = null;
    for (JsonNode c : entry.path("status").path("conditions")) {
      String type = c.path("type").asText("");
      if (type.equals("Healthy")) {
        hs = text(c, "status");
        hr = text(c, "reason");
      } else if (type.equals(AGENT)) {
        as = text(c, "status");
        ar = text(c, "reason");
        am = text(c, "message");
        ap = instant(text(c, "lastProbeTime"));
      }
    }
    return new Conditions(hs, hr, as, ar, am, ap);
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Instant instant(String s) {
    try {
      return s == null ? null : Instant.parse(s);
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
