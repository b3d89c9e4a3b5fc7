package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.protocol.HealthReport;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HealthVerdictTest {
  private static final Instant RECEIVED = Instant.parse("2026-12-07T10:00:00Z");

  private static HealthReport report(String status, String state, String ready, boolean crashLoop, long heartbeat) {
    HealthReport.Sidecar sidecar = state.equals("none") ? null : new HealthReport.Sidecar(state,
        ready.equals("null") ? null : Boolean.valueOf(ready), 2L, 812L, crashLoop, List.of("exit status 1"));
    return new HealthReport(1, status, List.of("a reason"), RECEIVED.toString(), 1L,
        new HealthReport.Agent("t", RECEIVED.toString(), heartbeat), null, null, null, sidecar, List.of());
  }

  /** Traffic follows the sidecar; the agent's own worries (DEGRADED) do not pull it; silence and shutdown do. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "healthy, just reported | HEALTHY | active/running | true | false | 60 | 0 | true | Serving",
      "degraded (token soon), Envoy ready | DEGRADED | active/running | true | false | 60 | 0 | true | Serving",
      "sidecar dead | UNHEALTHY | failed/failed | false | false | 60 | 0 | false | SidecarDown",
      "sidecar restarting | DEGRADED | activating/auto-restart | null | false | 60 | 0 | false | SidecarDown",
      "crash loop even while running | UNHEALTHY | active/running | false | true | 60 | 0 | false | SidecarCrashLoop",
      "Envoy not ready | DEGRADED | active/running | false | false | 60 | 0 | false | EnvoyNotReady",
      "Envoy readiness unknown yet | DEGRADED | active/running | null | false | 60 | 0 | false | EnvoyNotReady",
      "unhealthy for another reason | UNHEALTHY | active/running | true | false | 60 | 0 | false | AgentUnhealthy",
      "stopping | STOPPING | active/running | true | false | 60 | 0 | false | AgentStopping",
      "silent three heartbeats: still in | HEALTHY | active/running | true | false | 60 | 180 | true | Serving",
      "silent past three heartbeats | HEALTHY | active/running | true | false | 60 | 181 | false | AgentSilent",
      "short heartbeat, silent sooner | HEALTHY | active/running | true | false | 5 | 16 | false | AgentSilent",
      "no sidecar state | HEALTHY | none | true | false | 60 | 0 | false | SidecarUnknown",
  })
  void decides(String what, String status, String state, String ready, boolean crashLoop, long heartbeat,
      long silentFor, boolean healthy, String reason) {
    HealthVerdict v = HealthVerdict.of(report(status, state, ready, crashLoop, heartbeat), RECEIVED,
        RECEIVED.plusSeconds(silentFor));
    assertEquals(healthy, v.healthy(), what + ": " + v);
    assertEquals(reason, v.reason(), what + ": " + v);
    assertTrue(!v.message().isEmpty(), what);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "the last diagnosis line is said | failed/failed | istio.service is failed/failed: exit status 1",
  })
  void messagesSayWhy(String what, String state, String message) {
    assertEquals(message, HealthVerdict.of(report("UNHEALTHY", state, "false", false, 60), RECEIVED, RECEIVED)
        .message(), what);
  }
}
