package io.istiovmagent.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The sidecar's state is a type inside the agent and the same label as before in status.json. */
class SidecarStateTest {
  private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

  @TempDir
  Path dir;

  private static AgentStatus withSidecar(SidecarState state) {
    return new AgentStatus(AgentStatus.FORMAT, 1, "test", NOW, NOW, AgentStatus.Phase.RUNNING,
        AgentStatus.Health.HEALTHY, List.of(), new AgentStatus.Bundle("s", "sha256:1", "sha256:2", NOW, NOW, false,
        NOW.plusSeconds(3600), NOW.plusSeconds(86_400 * 365), "ns", "sa", "g", null, null, null, null), null,
        new AgentStatus.Sidecar(true, state, 812, 0, true, null, false, List.of()), null, null, null);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"active/running", "activating/auto-restart", "failed/failed", "unmanaged", "no-systemd",
      "not-installed", "unknown"})
  void statusJsonCarriesTheLabelAndReadsBackTheSameState(String label) throws Exception {
    SidecarState state = SidecarState.of(label);
    assertEquals(label, state.label());
    String json = StatusFile.toJson(withSidecar(state));
    assertTrue(json.contains("\"state\" : \"" + label + "\""), json);
    StatusFile file = new StatusFile(dir);
    file.write(withSidecar(state));
    assertEquals(state, file.read().orElseThrow().sidecar().state());
  }

  @Test
  void theAgentsOwnStatesAreNotUnitStates() {
    assertEquals(SidecarState.Agent.NOT_INSTALLED, SidecarState.of("not-installed"));
    assertEquals(new SidecarState.Unit("active", "running"), SidecarState.of("active/running"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource({"active/running, HEALTHY", "active/exited, HEALTHY", "activating/auto-restart, UNHEALTHY",
      "failed/failed, UNHEALTHY", "unknown, UNHEALTHY", "not-installed, DEGRADED", "no-systemd, DEGRADED"})
  void theVerdictFollowsTheType(String label, AgentStatus.Health expected) {
    assertEquals(expected, HealthAssessor.assess(withSidecar(SidecarState.of(label)), NOW).health());
  }
}
