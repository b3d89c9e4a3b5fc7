package io.istiovmagent.onboarding.mesh;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Whether a VM should receive the mesh's traffic, from what its agent last said: the {@code Healthy} condition the
 * service writes on the VM's WorkloadEntry (istiod routes to an entry annotated
 * {@code proxy.istio.io/health-checks-enabled} only while that condition is {@code True}). Pure.
 *
 * <p>Traffic follows the sidecar, not the agent's whole state: a token nearing expiry makes the agent DEGRADED but
 * Envoy serves on; a dead or crash-looping sidecar, an Envoy that says it is not ready, an agent shutting down
 * (STOPPING, its last report) or gone silent take the VM out.
 */
record HealthVerdict(boolean healthy, String reason, String message) {
  /** Reasons, one word each (CamelCase, as Kubernetes conditions write them). */
  static final String SERVING = "Serving";
  static final String SIDECAR_DOWN = "SidecarDown";
  static final String CRASH_LOOP = "SidecarCrashLoop";
  static final String NOT_READY = "EnvoyNotReady";
  static final String STOPPING = "AgentStopping";
  static final String UNHEALTHY = "AgentUnhealthy";
  static final String SILENT = "AgentSilent";
  static final String NO_SIDECAR = "SidecarUnknown";
  /** How many heartbeats may be missed before a VM counts as gone: one lost report is not enough. */
  static final int SILENT_HEARTBEATS = 3;

  public HealthVerdict {
    Objects.requireNonNull(reason, "reason == null");
    Objects.requireNonNull(message, "message == null");
  }

  /** The verdict on the last report, received at {@code receivedAt}, looked at {@code now}. */
  static HealthVerdict of(HealthReport r, Instant receivedAt, Instant now) {
    Duration heartbeat = Duration.ofSeconds(r.agent() == null || r.agent().heartbeatSeconds() == null
        || r.agent().heartbeatSeconds() <= 0 ? 60 : r.agent().heartbeatSeconds());
    String status = r.status() == null ? "" : r.status();
    if ("STOPPING".equals(status)) {
      return new HealthVerdict(false, STOPPING, "the agent is shutting down (its last report, " + receivedAt + ")");
    }
    Duration silence = Duration.between(receivedAt, now);
    if (silence.compareTo(heartbeat.multipliedBy(SILENT_HEARTBEATS)) > 0) {
      return new HealthVerdict(false, SILENT, "no report for " + silence.toSeconds() + " s (" + SILENT_HEARTBEATS
          + " heartbeats of " + heartbeat.toSeconds() + " s); last seen " + receivedAt);
    }
    HealthReport.Sidecar sc = r.sidecar();
    if (sc == null || sc.state() == null) {
      return new HealthVerdict(false, NO_SIDECAR, "the agent reports no sidecar state (istio.service not "
          + "supervised?)");
    }
    if (Boolean.TRUE.equals(sc.crashLoop())) {
      return new HealthVerdict(false, CRASH_LOOP, "istio.service is crash-looping (" + sc.restarts() + " restarts)"
          + diagnosis(sc.diagnosis()));
    }
    if (!sc.state().equals("active/running")) {
      return new HealthVerdict(false, SIDECAR_DOWN, "istio.service is " + sc.state() + diagnosis(sc.diagnosis()));
    }
    if (!Boolean.TRUE.equals(sc.ready())) {
      return new HealthVerdict(false, NOT_READY, sc.ready() == null ? "Envoy's readiness is not known yet"
          : "Envoy says it is not ready" + reasons(r.reasons()));
    }
    if ("UNHEALTHY".equals(status)) {
      return new HealthVerdict(false, UNHEALTHY, "the agent reports UNHEALTHY" + reasons(r.reasons()));
    }
    return new HealthVerdict(true, SERVING, "istio.service running and Envoy ready"
        + ("DEGRADED".equals(status) ? "; the agent is DEGRADED" + reasons(r.reasons()) : ""));
  }

  private static String diagnosis(List<String> lines) {
    return lines == null || lines.isEmpty() ? "" : ": " + lines.get(lines.size() - 1);
  }

  private static String reasons(List<String> reasons) {
    return reasons == null || reasons.isEmpty() ? "" : " (" + String.join("; ", reasons) + ")";
  }
}
