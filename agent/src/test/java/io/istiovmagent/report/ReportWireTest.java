package io.istiovmagent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The exact bytes of a report as the agent sends it: docs/protocol.md is the contract, so a change of the model
 * behind it (one set of records for both ends) must not move a field, drop a null or reformat a time.
 */
class ReportWireTest {
  private static final Instant T = Instant.parse("2026-11-25T12:00:01.250Z");

  @Test
  void aFullReportKeepsItsFieldsOrderNullsAndTimes() throws Exception {
    AgentStatus.Bundle bundle = new AgentStatus.Bundle("https://cp.example:15012/v1/bundle/ns/g", "sha256:ab12", "sha256:cd34",
        T.minusSeconds(60), T, false, null, Instant.parse("2027-01-01T00:00:00Z"), "ns", "sa", "g", "Kubernetes",
        null, null, null);
    AgentStatus.Sidecar sidecar = new AgentStatus.Sidecar(true, SidecarState.Agent.UNKNOWN, 4242, 3, null, null,
        true, List.of("exit status 1"));
    AgentStatus s = new AgentStatus(AgentStatus.FORMAT, 1, "0.1.0", T.minusSeconds(3600), T,
        AgentStatus.Phase.RUNNING, AgentStatus.Health.DEGRADED, List.of("sidecar restarting"), bundle, null,
        sidecar, null, null, null);
    Object report = ReportBuilder.build(s, new HostInfoFixture().host(), 7, Duration.ofSeconds(60),
        List.of(ReportBuilder.transition(s)));

    assertEquals("{\"protocol\":1,\"status\":\"DEGRADED\",\"reasons\":[\"sidecar restarting\"],"
        + "\"observedAt\":\"2026-11-25T12:00:01.250Z\",\"sequence\":7,"
        + "\"agent\":{\"version\":\"0.1.0\",\"startedAt\":\"2026-11-25T11:00:01.250Z\",\"heartbeatSeconds\":60},"
        + "\"host\":{\"hostname\":\"vm-1\",\"machineId\":\"0123456789abcdef0123456789abcdef\","
        + "\"addresses\":[\"10.0.0.7\"]},"
        + "\"workload\":{\"namespace\":\"ns\",\"serviceAccount\":\"sa\",\"group\":\"g\",\"clusterId\":\"Kubernetes\","
        + "\"network\":null},"
        + "\"bundle\":{\"revision\":\"sha256:ab12\",\"configRevision\":\"sha256:cd34\","
        + "\"source\":\"https://cp.example:15012/v1/bundle/ns/g\","
        + "\"fetchedAt\":\"2026-11-25T11:59:01.250Z\",\"tokenExpiresAt\":null,"
        + "\"rootCertExpiresAt\":\"2027-01-01T00:00:00Z\"},"
        + "\"sidecar\":{\"state\":\"" + "unknown" + "\",\"ready\":null,\"restarts\":3,"
        + "\"mainPid\":4242,\"crashLoop\":true,\"diagnosis\":[\"exit status 1\"]},"
        + "\"transitions\":[{\"at\":\"2026-11-25T12:00:01.250Z\",\"status\":\"DEGRADED\","
        + "\"reasons\":[\"sidecar restarting\"]}]}",
        ReportExchange.JSON.writeValueAsString(report));
  }

  @Test
  void aReportBeforeAnyBundleHasAnEmptyWorkloadAndNoBundleOrSidecar() throws Exception {
    AgentStatus s = new AgentStatus(AgentStatus.FORMAT, 1, "0.1.0", T, T, AgentStatus.Phase.WAITING_FOR_BUNDLE,
        AgentStatus.Health.UNHEALTHY, List.of(), null, null, null, null, null, null);
    Object report = ReportBuilder.build(s, new HostInfoFixture().host(), 1, Duration.ofSeconds(30), List.of());

    assertEquals("{\"protocol\":1,\"status\":\"UNHEALTHY\",\"reasons\":[],"
        + "\"observedAt\":\"2026-11-25T12:00:01.250Z\",\"sequence\":1,"
        + "\"agent\":{\"version\":\"0.1.0\",\"startedAt\":\"2026-11-25T12:00:01.250Z\",\"heartbeatSeconds\":30},"
        + "\"host\":{\"hostname\":\"vm-1\",\"machineId\":\"0123456789abcdef0123456789abcdef\","
        + "\"addresses\":[\"10.0.0.7\"]},"
        + "\"workload\":{\"namespace\":null,\"serviceAccount\":null,\"group\":null,\"clusterId\":null,"
        + "\"network\":null},\"bundle\":null,\"sidecar\":null,\"transitions\":[]}",
        ReportExchange.JSON.writeValueAsString(report));
  }

  /** One host, named once: the tests construct it through whichever model the reporter uses. */
  private static final class HostInfoFixture {
    HealthReport.Host host() {
      return new HealthReport.Host("vm-1", "0123456789abcdef0123456789abcdef", List.of("10.0.0.7"));
    }
  }
}
