package io.istiovmagent.onboarding.mesh;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The status conditions the service writes on a VM's WorkloadEntry, and when: {@code Healthy} (what istiod routes
 * by, {@link Condition#next}) and its own {@value AgentState#TYPE} ({@link AgentState}), always in one write. A write
 * happens on a transition of either, and otherwise at most once per {@link #LIVENESS} to record that the VM is still
 * there (the agent condition's {@code lastProbeTime} is the VM's last seen as the cluster knows it). So the API
 * writes per minute stay within the VMs' transitions plus VMs / 10. Pure.
 */
public final class EntryStatus {
  /** The type of the service's own condition, beside {@code Healthy}: the agent's state ({@link AgentState}). */
  public static final String AGENT = AgentState.TYPE;
  /** How often a VM that changes nothing is written to record it is alive. */
  public static final Duration LIVENESS = Duration.ofMinutes(10);
  /** The reason of both conditions on an entry registered at enrolment, before its first report. */
  static final String ENROLLED = "Enrolled";
  public static final String SILENT = "Silent";

  private EntryStatus() {}

  /** What to write after {@code report} (received at {@code receivedAt}, looked at {@code now}), or nothing. */
  public static Optional<List<Condition>> afterReport(List<Condition> current, HealthReport report,
      Instant receivedAt, Instant now) {
    HealthVerdict verdict = HealthVerdict.of(report, receivedAt, now);
    Optional<Condition> ours = Condition.find(current, AgentState.TYPE);
    Optional<AgentState> previous = ours.flatMap(c -> AgentState.parse(c.message()));
    AgentState state = AgentState.of(report, verdict, receivedAt, previous);
    Optional<List<Condition>> healthy = Condition.next(current, verdict, now);
    boolean due = ours.isEmpty() || ours.get().lastProbeTime() == null
        || !ours.get().lastProbeTime().plus(LIVENESS).isAfter(now);
    if (healthy.isEmpty() && !due && previous.isPresent() && state.sameAs(previous.get())) {
      return Optional.empty();
    }
    Instant seen = receivedAt.isAfter(now) ? now : receivedAt;
    return Optional.of(Condition.with(healthy.orElse(current), agent(ours, state.conditionStatus(),
        state.conditionReason(), state.message(), seen, now)));
  }

  /**
   * The conditions of an entry registered at enrolment: out of the mesh's traffic until the agent's first report,
   * and visible as enrolled; empty when the entry already has ours (a second enrolment of the same VM).
   */
  public static Optional<List<Condition>> enrolled(List<Condition> current, Instant now) {
    if (Condition.find(current, AgentState.TYPE).isPresent()) {
      return Optional.empty();
    }
    HealthVerdict waiting = new HealthVerdict(false, ENROLLED, "enrolled at " + now + "; no report from its agent "
        + "yet");
    List<Condition> healthy = Condition.next(current, waiting, now).orElse(current);
    return Optional.of(Condition.with(healthy, new Condition(AgentState.TYPE, "Unknown", now, now, ENROLLED,
        "first-healthy=never")));
  }

  /**
   * What the silence sweep writes for a VM last seen at {@code lastSeen}: both conditions False, reason Silent;
   * empty when the entry already says so. The agent condition keeps the state last reported (and its last seen).
   */
  public static Optional<List<Condition>> silent(List<Condition> current, Instant lastSeen, Instant now) {
    HealthVerdict verdict = new HealthVerdict(false, HealthVerdict.SILENT, "no report for "
        + Duration.between(lastSeen, now).toSeconds() + " s; last seen " + lastSeen);
    Optional<List<Condition>> healthy = Condition.next(current, verdict, now);
    Optional<Condition> ours = Condition.find(current, AgentState.TYPE);
    if (healthy.isEmpty() && ours.isPresent() && SILENT.equals(ours.get().reason())) {
      return Optional.empty();
    }
    String message = ours.map(Condition::message).orElse("first-healthy=never");
    Instant probe = ours.map(Condition::lastProbeTime).filter(t -> !t.isAfter(now)).orElse(lastSeen);
    return Optional.of(Condition.with(healthy.orElse(current), agent(ours, "False", SILENT, message, probe, now)));
  }

  /** When the VM was last seen as the cluster records it (the agent condition's probe time). */
  public static Optional<Instant> lastSeen(List<Condition> current) {
    return Condition.find(current, AgentState.TYPE).map(Condition::lastProbeTime);
  }

  private static Condition agent(Optional<Condition> old, String status, String reason, String message,
      Instant seen, Instant now) {
    Instant transition = old.filter(c -> c.status().equals(status) && c.lastTransitionTime() != null)
        .map(Condition::lastTransitionTime).orElse(now);
    return new Condition(AgentState.TYPE, status, seen, transition, reason, message);
  }
}
