package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.Repo;
import io.istiovmagent.testing.UnitFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The drop-in the package installs for istio.service: the sidecar is ordered after the agent and pulls it in, but
 * nothing ties the sidecar's lifetime to the agent's, so restarting or upgrading the agent leaves the sidecar up.
 */
class IstioServiceDropInTest {
  private static final Path DROP_IN = Repo.path("systemd/istio.service.d/10-istio-vm-agent.conf");
  private static final String AGENT = "istio-vm-agent.service";
  private static Map<String, List<String>> unit;

  @BeforeAll
  static void parse() throws IOException {
    unit = UnitFile.read(DROP_IN).settings();
  }

  @Test
  void sidecarStartsAfterTheAgent() {
    assertTrue(values("Unit", "After").contains(AGENT), () -> "After= in " + unit);
  }

  @Test
  void startingTheSidecarPullsInTheAgent() {
    assertTrue(values("Unit", "Wants").contains(AGENT), () -> "Wants= in " + unit);
  }

  @Test
  void nothingTiesTheSidecarsLifetimeToTheAgent() {
    for (String section : List.of("Unit", "Service", "Install")) {
      for (String key : List.of("BindsTo", "PartOf", "Requires", "Requisite", "Upholds", "PropagatesStopTo",
          "StopPropagatedFrom", "ReloadPropagatedFrom", "PropagatesReloadTo")) {
        assertEquals(List.of(), values(section, key), section + "/" + key + "= must not be set");
      }
    }
  }

  @Test
  void onlyTheUnitSectionIsTouched() {
    // A [Service] override would change how istio-sidecar's own unit runs pilot-agent; that is not ours to do.
    assertEquals(List.of("Unit/After", "Unit/Wants"), List.copyOf(unit.keySet()));
  }

  private static List<String> values(String section, String key) {
    List<String> out = new ArrayList<>();
    for (String v : unit.getOrDefault(section + "/" + key, List.of())) {
      out.addAll(List.of(v.strip().split("\\s+")));
    }
    out.removeIf(String::isEmpty);
    return out;
  }
}
