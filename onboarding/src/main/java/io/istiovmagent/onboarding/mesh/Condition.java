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
    Optional<Condition> old = current.stream().filter(c -> c.type().equals(HEALTHY)).findFirst();
    if (old.isPresent() && old.get().status().equals(status) && verdict.reason().equals(old.get().reason())) {
      return Optional.empty();
    }
    Instant transition = old.isPresent() && old.get().status().equals(status) && old.get().lastTransitionTime() != null
        ? old.get().lastTransitionTime() : now;
    String message = verdict.message().length() > 1024 ? verdict.message().substring(0, 1021) + "..."
        : verdict.message();
    Condition healthy = new Condition(HEALTHY, status, now, transition, verdict.reason(), message);
    List<Condition> out = new ArrayList<>();
    boolean placed = false;
    for (Condition c : current) {
      if (c.type().equals(HEALTHY)) {
        if (!placed) {
          out.add(healthy); // in its place: the list is atomic for istiod's writes, and order is kept
          placed = true;
        }
      } else {
        out.add(c);
      }
    }
    if (!placed) {
      out.add(healthy);
    }
    return Optional.of(List.copyOf(out));
  }
}
