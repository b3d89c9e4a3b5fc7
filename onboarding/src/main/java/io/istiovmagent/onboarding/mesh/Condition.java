package io.istiovmagent.onboarding.mesh;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of a WorkloadEntry's {@code status.conditions} (istio.meta.v1alpha1.IstioCondition), and the rule by
 * which the service updates the {@code Healthy} one beside istiod (facts §3.5): written on transitions only;
 * {@code lastProbeTime} is the service's now, never later (istiod skips its own probe results older than it);
 * {@code lastTransitionTime} moves only when the status does; every other condition is kept as it is.
 */
public record Condition(String type, String status, Instant lastProbeTime, Instant lastTransitionTime,
    String reason, String message) {
  public static final String HEALTHY = "Healthy";

  public Condition {
    Objects.requireNonNull(type, "type == null");
    Objects.requireNonNull(status, "status == null");
  }

  /**
   * The conditions to write, or empty when {@code current} already says {@code verdict} (same status and reason: a
   * heartbeat is not a transition). Kubernetes limits a condition's message to 32 KiB; ours are cut at 1 KiB.
   */
  public static Optional<List<Condition>> next(List<Condition> current, HealthVerdict verdict, Instant now) {
    String status = verdict.healthy() ? "True" : "False";
    Optional<Condition> old = find(current, HEALTHY);
    if (old.isPresent() && old.get().status().equals(status) && verdict.reason().equals(old.get().reason())) {
      return Optional.empty();
    }
    Instant transition = old.isPresent() && old.get().status().equals(status) && old.get().lastTransitionTime() != null
        ? old.get().lastTransitionTime() : now;
    String message = verdict.message().length() > 1024 ? verdict.message().substring(0, 1021) + "..."
        : verdict.message();
    return Optional.of(with(current, new Condition(HEALTHY, status, now, transition, verdict.reason(), message)));
  }

  /**
   * {@code current} with {@code c} in the place of the condition of its type (the list is atomic for istiod's writes,
   * and order is kept), or added at the end.
   */
  public static List<Condition> with(List<Condition> current, Condition c) {
    List<Condition> out = new ArrayList<>();
    boolean placed = false;
    for (Condition old : current) {
      if (old.type().equals(c.type())) {
        if (!placed) {
          out.add(c);
          placed = true;
        }
      } else {
        out.add(old);
      }
    }
    if (!placed) {
      out.add(c);
    }
    return List.copyOf(out);
  }

  /** The condition of {@code type}, if there is one. */
  public static Optional<Condition> find(List<Condition> current, String type) {
    return current.stream().filter(c -> c.type().equals(type)).findFirst();
  }
}
