package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The drop-in the package installs for istio.service: the sidecar is ordered after the agent and pulls it in, but
 * nothing ties the sidecar's lifetime to the agent's, so restarting or upgrading the agent leaves the sidecar up.
 */
class IstioServiceDropInTest {
  private static final Path DROP_IN = Path.of("systemd/istio.service.d/10-istio-vm-agent.conf");
  private static final String AGENT = "istio-vm-agent.service";
  private static Map<String, List<String>> unit;

  @BeforeAll
  static void parse() throws IOException {
    unit = parseUnitFile(Files.readAllLines(DROP_IN, StandardCharsets.UTF_8));
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

  /**
   * systemd's unit file syntax, enough for this file: [Section] headers, KEY=VALUE, '#' and ';' comments,
   * backslash continuation lines.
   */
  static Map<String, List<String>> parseUnitFile(List<String> lines) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    String section = null;
    StringBuilder pending = new StringBuilder();
    for (String raw : lines) {
      String line = raw.strip();
      if (pending.length() == 0 && (line.isEmpty() || line.startsWith("#") || line.startsWith(";"))) {
        continue;
      }
      if (line.endsWith("\\")) {
        pending.append(line, 0, line.length() - 1).append(' ');
        continue;
      }
      line = pending.append(line).toString().strip();
      pending.setLength(0);
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1);
        continue;
      }
      int eq = line.indexOf('=');
      if (section == null || eq <= 0) {
        throw new AssertionError("not a unit file line: " + raw);
      }
      out.computeIfAbsent(section + "/" + line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1));
    }
    return out;
  }
}
