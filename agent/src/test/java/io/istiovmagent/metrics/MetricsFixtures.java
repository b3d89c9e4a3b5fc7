package io.istiovmagent.metrics;

import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Statuses and counters as the daemon makes them, for the renderer's and the writer's tests. */
final class MetricsFixtures {
  static final Instant STARTED = Instant.parse("2026-01-02T03:04:05Z");
  static final Instant NOW = STARTED.plusSeconds(3600);
  /** Where a careless renderer would leak something: none of it may appear in the metrics. */
  static final String SECRET = "eyJhbGciOiJSUzI1NiJ9.secret-token";

  private MetricsFixtures() {}

  /** A running agent: a fetched bundle, reports going out, istio.service up and ready, one hosts repair. */
  static AgentStatus running() {
    AgentStatus.Bundle bundle = new AgentStatus.Bundle("https://onboarding.example/v1/bundle/ns/vm?t=" + SECRET,
        "sha256:4f2a9c", "cfg-1", STARTED.plusSeconds(10), STARTED.plusMillis(3_000_250), false,
        STARTED.plusSeconds(7200), Instant.parse("2036-01-01T00:00:00Z"), "vm-ns", "vm-sa", "hello-vm",
        "cluster-1", "net-1", null, AgentStatus.Bundle.ENROLLED);
    AgentStatus.Sidecar sidecar = new AgentStatus.Sidecar(true, new SidecarState.Unit("active", "running"), 4711,
        2, true, null, false, List.of("envoy: " + SECRET));
    return new AgentStatus(AgentStatus.FORMAT, 99, "1.2.3", STARTED, NOW, AgentStatus.Phase.RUNNING,
        AgentStatus.Health.HEALTHY, List.of(), bundle, new AgentStatus.Hosts(3, 1, STARTED.plusSeconds(60), null),
        sidecar, new AgentStatus.LastError(NOW, "credential " + SECRET + " rejected"), NOW.plusSeconds(600),
        new AgentStatus.Report("https://onboarding.example/v1/report", NOW.minusSeconds(30), 42, SECRET));
  }

  /** Just installed, nothing configured: no bundle, no reporter, the sidecar not supervised yet. */
  static AgentStatus unconfigured() {
    return new AgentStatus(AgentStatus.FORMAT, 99, "1.2.3", STARTED, NOW,
        AgentStatus.Phase.WAITING_FOR_CONFIGURATION, AgentStatus.Health.DEGRADED, List.of("no bundle"), null, null,
        new AgentStatus.Sidecar(false, SidecarState.Agent.UNMANAGED, 0, 0, null, null, false, List.of()), null, null,
        null);
  }

  static AgentCounters counters() {
    return new AgentCounters(Map.of(FailureClass.TRANSIENT, 3L, FailureClass.BAD_BUNDLE, 1L),
        Map.of(FailureClass.CREDENTIAL_REJECTED, 2L), 1);
  }
}
