package io.istiovmagent.report;

import static io.istiovmagent.protocol.HealthReport.time;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.status.AgentStatus;
import java.time.Duration;
import java.util.List;

/** Turns the daemon's status into a protocol report. Pure; copies nothing that could be a secret. */
final class ReportBuilder {
  private ReportBuilder() {}

  public static HealthReport build(AgentStatus s, HealthReport.Host host, long sequence, Duration heartbeat,
      List<HealthReport.Transition> transitions) {
    AgentStatus.Bundle b = s.bundle();
    HealthReport.Workload workload = b == null ? new HealthReport.Workload(null, null, null, null, null)
        : new HealthReport.Workload(b.namespace(), b.serviceAccount(), b.workloadGroup(), b.clusterId(), b.network());
    HealthReport.Bundle bundle = b == null ? null : new HealthReport.Bundle(b.revision(), b.configRevision(), b.source(),
        time(b.fetchedAt()), time(b.tokenExpiresAt()), time(b.rootCertExpiresAt()));
    AgentStatus.Sidecar sc = s.sidecar();
    HealthReport.Sidecar sidecar = sc == null ? null : new HealthReport.Sidecar(
        sc.state() == null ? null : sc.state().label(), sc.ready(), sc.restarts(),
        sc.mainPid(), sc.crashLoop(), sc.diagnosis());
    return new HealthReport(HealthReport.PROTOCOL, s.health().name(), s.reasons(), time(s.updatedAt()), sequence,
        new HealthReport.Agent(s.version(), time(s.startedAt()), heartbeat.toSeconds()), host, workload, bundle,
        sidecar, List.copyOf(transitions));
  }

  public static HealthReport.Transition transition(AgentStatus s) {
    return new HealthReport.Transition(time(s.updatedAt()), s.health().name(), s.reasons());
  }
}
