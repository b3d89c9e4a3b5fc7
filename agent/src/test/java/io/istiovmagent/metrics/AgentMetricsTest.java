package io.istiovmagent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class AgentMetricsTest {

  static Stream<Arguments> samples() {
    AgentStatus running = MetricsFixtures.running();
    AgentStatus none = MetricsFixtures.unconfigured();
    AgentStatus notReady = withSidecar(running, new AgentStatus.Sidecar(true,
        new SidecarState.Unit("activating", "auto-restart"), 0, 5, false, "connection refused", true, List.of()));
    AgentStatus unprobed = withSidecar(running, new AgentStatus.Sidecar(true, SidecarState.Agent.NOT_INSTALLED, 0,
        0, null, null, false, List.of()));
    return Stream.of(
        // status, what must be there, what must not
        Arguments.of("running", running, List.of(
            "istio_vm_agent_bundle_info{revision=\"sha256:4f2a9c\"} 1",
            "istio_vm_agent_token_expiry_timestamp_seconds 1767330245",
            "istio_vm_agent_root_cert_expiry_timestamp_seconds 2082758400",
            "istio_vm_agent_bundle_fetched_timestamp_seconds 1767323055",
            "istio_vm_agent_bundle_fetch_last_success_timestamp_seconds 1767326045.25",
            "istio_vm_agent_bundle_from_last_known_good 0",
            "istio_vm_agent_bundle_fetch_failures_total{class=\"transient\"} 3",
            "istio_vm_agent_bundle_fetch_failures_total{class=\"not_found\"} 0",
            "istio_vm_agent_bundle_fetch_failures_total{class=\"bad_bundle\"} 1",
            "istio_vm_agent_report_failures_total{class=\"credential_rejected\"} 2",
            "istio_vm_agent_report_failures_total{class=\"transient\"} 0",
            "istio_vm_agent_reports_delivered_total 42",
            "istio_vm_agent_report_last_success_timestamp_seconds 1767326615",
            "istio_vm_agent_sidecar_state{state=\"active/running\"} 1",
            "istio_vm_agent_sidecar_ready 1",
            "istio_vm_agent_sidecar_crash_looping 0",
            "istio_vm_agent_sidecar_automatic_restarts_total 2",
            "istio_vm_agent_sidecar_agent_restarts_total 1",
            "istio_vm_agent_hosts_block_repairs_total 1",
            "istio_vm_agent_hosts_block_last_repair_timestamp_seconds 1767323105",
            "istio_vm_agent_phase{phase=\"running\"} 1",
            "istio_vm_agent_health{health=\"healthy\"} 1",
            "istio_vm_agent_health{health=\"unhealthy\"} 0",
            "istio_vm_agent_start_time_seconds 1767323045",
            "istio_vm_agent_build_info{version=\"1.2.3\"} 1"),
            List.of("report_failures_total{class=\"bad_bundle\"}")),
        Arguments.of("unconfigured: no bundle, no reporter, sidecar unmanaged", none, List.of(
            "istio_vm_agent_phase{phase=\"waiting_for_configuration\"} 1",
            "istio_vm_agent_health{health=\"degraded\"} 1",
            "istio_vm_agent_bundle_fetch_failures_total{class=\"transient\"} 0",
            "istio_vm_agent_sidecar_state{state=\"unmanaged\"} 1"),
            List.of("bundle_info", "token_expiry", "root_cert", "report_", "sidecar_ready", "sidecar_crash",
                "restarts_total", "hosts_")),
        Arguments.of("sidecar restarting, not ready, crash-looping", notReady, List.of(
            "istio_vm_agent_sidecar_state{state=\"activating/auto-restart\"} 1",
            "istio_vm_agent_sidecar_ready 0",
            "istio_vm_agent_sidecar_crash_looping 1",
            "istio_vm_agent_sidecar_automatic_restarts_total 5"),
            List.of("connection refused")),
        Arguments.of("sidecar not asked yet: readiness unknown is absent, not 0", unprobed, List.of(
            "istio_vm_agent_sidecar_state{state=\"not-installed\"} 1"),
            List.of("sidecar_ready")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("samples")
  void rendersTheFiguresOfEachStatus(String name, AgentStatus s, List<String> present, List<String> absent) {
    String text = AgentMetrics.render(s, s.bundle() == null ? AgentCounters.NONE : MetricsFixtures.counters());
    List<String> lines = Arrays.asList(text.split("\n"));
    for (String p : present) {
      assertTrue(lines.contains(p), () -> "no line '" + p + "' in\n" + text);
    }
    for (String a : absent) {
      assertFalse(text.contains(a), () -> "'" + a + "' in\n" + text);
    }
  }

  @Test
  void everyFamilyHasHelpAndTypeBeforeItsSamplesAndNamesFollowTheConventions() {
    String text = AgentMetrics.render(MetricsFixtures.running(), MetricsFixtures.counters());
    String family = null;
    String type = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("# HELP ")) {
        family = line.split(" ")[2];
        assertTrue(family.startsWith("istio_vm_agent_"), family);
      } else if (line.startsWith("# TYPE ")) {
        assertEquals(family, line.split(" ")[2]);
        type = line.split(" ")[3];
        assertEquals(type.equals("counter"), family.endsWith("_total"), family + " is a " + type);
      } else {
        String name = line.split("[{ ]")[0];
        assertEquals(family, name, "a sample outside its family: " + line);
      }
    }
    assertTrue(text.endsWith("\n"), "the format ends every line, the last one too");
  }

  @Test
  void neverCarriesTheTokenTheSourceUrlOrAnyMessage() {
    String text = AgentMetrics.render(MetricsFixtures.running(), MetricsFixtures.counters());
    assertFalse(text.contains(MetricsFixtures.SECRET), text);
    assertFalse(text.contains("onboarding.example"), text);
    assertFalse(text.contains("connection refused"), text);
  }

  @Test
  void escapesLabelValuesAsTheFormatSays() {
    AgentStatus odd = withVersion(MetricsFixtures.running(), "1.0\"\n} 7");
    assertTrue(AgentMetrics.render(odd, AgentCounters.NONE)
        .contains("istio_vm_agent_build_info{version=\"1.0\\\"\\n} 7\"} 1\n"));
  }

  private static AgentStatus withSidecar(AgentStatus s, AgentStatus.Sidecar sc) {
    return new AgentStatus(s.format(), s.pid(), s.version(), s.startedAt(), s.updatedAt(), s.phase(), s.health(),
        s.reasons(), s.bundle(), s.hosts(), sc, s.lastError(), s.nextRefreshAt(), s.report());
  }

  private static AgentStatus withVersion(AgentStatus s, String version) {
    return new AgentStatus(s.format(), s.pid(), version, s.startedAt(), s.updatedAt(), s.phase(), s.health(),
        s.reasons(), s.bundle(), s.hosts(), s.sidecar(), s.lastError(), s.nextRefreshAt(), s.report());
  }
}
