package io.istiovmagent.status;

import io.istiovmagent.status.AgentStatus.Health;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Turns what the daemon knows into a verdict and its reasons. Pure: the same status and instant, the same answer. */
public final class HealthAssessor {
  static final Duration ROOT_CERT_WARNING = Duration.ofDays(30);

  /** The verdict and the short reasons behind it, most serious first. */
  public record Assessment(Health health, List<String> reasons) {}

  private HealthAssessor() {}

  public static Assessment assess(AgentStatus s, Instant now) {
    if (s.phase() == AgentStatus.Phase.STOPPING) {
      return new Assessment(Health.STOPPING, List.of("agent stopping"));
    }
    List<String> unhealthy = new ArrayList<>();
    List<String> degraded = new ArrayList<>();
    if (s.phase() == AgentStatus.Phase.WAITING_FOR_CONFIGURATION) {
      unhealthy.add("waiting for configuration (set bundle.source)");
    }
    AgentStatus.Bundle b = s.bundle();
    if (b == null || b.revision() == null) {
      unhealthy.add("no bundle installed yet");
    } else {
      if (b.fromLastKnownGood()) {
        degraded.add("running on the last-known-good bundle; the source has not answered yet");
      }
      if (b.tokenExpiresAt() != null && !now.isBefore(b.tokenExpiresAt())) {
        degraded.add("token expired at " + b.tokenExpiresAt());
      }
      if (b.rootCertExpiresAt() != null && Duration.between(now, b.rootCertExpiresAt()).compareTo(ROOT_CERT_WARNING) < 0) {
        degraded.add("root certificate expires at " + b.rootCertExpiresAt());
      }
    }
    if (s.lastError() != null) {
      degraded.add(s.lastError().message());
    }
    AgentStatus.Sidecar sc = s.sidecar();
    if (sc != null && sc.managed()) {
      if (sc.crashLoop()) {
        unhealthy.add("istio.service is crash-looping");
      } else if (sc.state() == SidecarState.Agent.NOT_INSTALLED) {
        degraded.add("istio.service is not installed (install istio-sidecar)");
      } else if (sc.state() == SidecarState.Agent.NO_SYSTEMD) {
        degraded.add("no systemd: istio.service is not supervised");
      } else if (sc.state() != null && !(sc.state() instanceof SidecarState.Unit u && u.active())) {
        unhealthy.add("istio.service is " + sc.state().label());
      } else if (Boolean.FALSE.equals(sc.ready())) {
        degraded.add("Envoy not ready" + (sc.readiness() == null ? "" : " (" + sc.readiness() + ")"));
      }
    }
    List<String> reasons = new ArrayList<>(unhealthy);
    reasons.addAll(degraded);
    Health h = !unhealthy.isEmpty() ? Health.UNHEALTHY : !degraded.isEmpty() ? Health.DEGRADED : Health.HEALTHY;
    return new Assessment(h, List.copyOf(reasons));
  }
}
