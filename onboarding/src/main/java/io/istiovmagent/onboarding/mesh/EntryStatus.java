package io.istiovmagent.onboarding.mesh;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The status conditions the service writes on a VM's WorkloadEntry, and when: {@code Healthy} (what istiod routes
 * by, {@link Condition#next}) and its own {@value AgentState#TYPE} ({@link AgentState}), always in one write. A write
 * happens on a transition of either, and otherwise once per {@link #LIVENESS} period, in the VM's own window of it
 * ({@link #livenessDue}), to record that the VM is still there (the agent condition's {@code lastProbeTime} is the
 * VM's last seen as the cluster knows it). So the API writes per minute stay within the VMs' transitions plus
 * VMs / 10, also after an outage. Pure.
 */
public final class EntryStatus {
  /** The type of the service's own condition, beside {@code Healthy}: the agent's state ({@link AgentState}). */
  public static final String AGENT = AgentState.TYPE;
  /** How often a VM that changes nothing is written to record it is alive. */
  public static final Duration LIVENESS = Duration.ofMinutes(10);
  /**
   * In each {@link #LIVENESS} period, the part of it in which a VM's liveness write may happen: its window opens at
   * the VM's own {@link #phase}. Longer than a heartbeat (60–72 s), so every window holds a report.
   */
  public static final Duration LIVENESS_WINDOW = Duration.ofMinutes(2);
  /** The reason of both conditions on an entry registered at enrolment, before its first report. */
  static final String ENROLLED = "Enrolled";
  public static final String SILENT = "Silent";

  private EntryStatus() {}

  /**
   * What to write after {@code report} (received at {@code receivedAt}, looked at {@code now}) for the VM whose
   * liveness window opens at {@code phase} ({@link #phase}), or nothing.
   */
  public static Optional<List<Condition>> afterReport(List<Condition> current, HealthReport report,
      Instant receivedAt, Instant now, Duration phase) {
    HealthVerdict verdict = HealthVerdict.of(report, receivedAt, now);
    Optional<Condition> ours = Condition.find(current, AgentState.TYPE);
    Optional<AgentState> previous = ours.flatMap(c -> AgentState.parse(c.message()));
    AgentState state = AgentState.of(report, verdict, receivedAt, previous);
    Optional<List<Condition>> healthy = Condition.next(current, verdict, now);
    Instant seen = receivedAt.isAfter(now) ? now : receivedAt;
    // Due by the time written as lastProbeTime, not by when the report is looked at: a report received just before
    // the window opens and looked at just after would write a probe time before the window, and the window's next
    // report a second liveness write.
    boolean due = ours.isEmpty() || ours.get().lastProbeTime() == null
        || livenessDue(ours.get().lastProbeTime(), seen, phase);
    if (healthy.isEmpty() && !due && previous.isPresent() && state.sameAs(previous.get())) {
      return Optional.empty();
    }
    return Optional.of(Condition.with(healthy.orElse(current), agent(ours, state.conditionStatus(),
        state.conditionReason(), state.message(), seen, now)));
  }

  /**
   * Whether a VM last written at {@code lastWritten} is due its liveness write now: {@code now} is in its window
   * (the first {@link #LIVENESS_WINDOW} of each {@link #LIVENESS} period, counted from its {@code phase}) and
   * nothing was written since that window opened. So a VM writes at most once per period, and the fleet's liveness
   * writes are spread over the period by the VMs' phases whatever happened before: after an outage of the service,
   * the VMs that come back do not all write at once, only those whose window is open (a fifth of them), as in any
   * other two minutes. The price: a VM that missed its window (its reports refused meanwhile) waits for the next.
   */
  public static boolean livenessDue(Instant lastWritten, Instant now, Duration phase) {
    long sinceOpen = Math.floorMod(now.toEpochMilli() - phase.toMillis(), LIVENESS.toMillis());
    return sinceOpen < LIVENESS_WINDOW.toMillis() && lastWritten.isBefore(now.minusMillis(sinceOpen));
  }

  /**
   * A VM's liveness phase, from its entry's namespace and name: spread evenly over {@link #LIVENESS}, the same on every replica and
   * after every restart.
   */
  public static Duration phase(String namespaceAndName) {
    long h = namespaceAndName.hashCode() * 0x9E3779B97F4A7C15L; // Fibonacci hashing: neighbouring names land far apart
    return Duration.ofMillis(Math.floorMod(h ^ (h >>> 29), LIVENESS.toMillis()));
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
