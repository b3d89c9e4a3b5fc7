package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.metrics.TextfileWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.FakeSystemd;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon under a temporary root with node-exporter's directory in it, stepped with its own clock: the .prom
 * file follows what happens (a fetch that fails then succeeds, a report refused then delivered, a sidecar that
 * systemd restarts), and holds the same figures as status.json.
 */
class MetricsTextfileTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir
  Path tmp;

  @Test
  void theTextfileFollowsFetchesReportsAndTheSidecar() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      DaemonHarness.ManualClock clock = h.manualClock();
      Path dir = Files.createDirectories(h.root.resolve("var/lib/prometheus/node-exporter"));
      Path prom = dir.resolve(TextfileWriter.FILE_NAME);
      envoy.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest r) {
          return new MockResponse.Builder().code(200).build();
        }
      });
      AtomicInteger fetches = new AtomicInteger();
      AtomicInteger reports = new AtomicInteger();
      h.respond.set(r -> {
        if (r.getTarget().startsWith("/v1/report")) {
          return new MockResponse.Builder().code(reports.incrementAndGet() == 1 ? 401 : 204).build();
        }
        return fetches.incrementAndGet() == 1 ? new MockResponse.Builder().code(503).build()
            : h.bundleResponse(SampleBundle.Spec.defaults());
      });
      FakeSystemd systemd = new FakeSystemd(4711);
      h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(), systemd,
          new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs),
          ExitWatcher.none(), log, new IoLane(Runnable::run));
      h.writeConfig(Files.readString(h.configPath).replace("sidecar:\n  manage: false\n",
          "sidecar:\n  readinessUrl: http://127.0.0.1:" + envoy.getPort() + "/healthz/ready\n")
          + "report:\n  url: https://localhost:" + h.server.getPort() + "/v1/report\n"
          + "metrics:\n  interval: 5s\n");
      h.startDriven();

      List<String> lines = stepUntil(h, clock, prom, List.of(
          "istio_vm_agent_bundle_fetch_failures_total{class=\"transient\"} 1",
          "istio_vm_agent_report_failures_total{class=\"credential_rejected\"} 1",
          "istio_vm_agent_sidecar_ready 1",
          "istio_vm_agent_sidecar_state{state=\"active/running\"} 1",
          "istio_vm_agent_phase{phase=\"running\"} 1"), "istio_vm_agent_reports_delivered_total 0");
      AgentStatus s = h.status();
      assertTrue(lines.contains("istio_vm_agent_bundle_info{revision=\"" + s.bundle().revision() + "\"} 1"),
          lines::toString);
      assertTrue(lines.contains("istio_vm_agent_token_expiry_timestamp_seconds "
          + s.bundle().tokenExpiresAt().getEpochSecond()), lines::toString);
      String lastFetch = "istio_vm_agent_bundle_fetch_last_success_timestamp_seconds ";
      assertTrue(lines.stream().anyMatch(l -> l.startsWith(lastFetch)),
          lines::toString);
      assertTrue(lines.stream().anyMatch(l -> l.startsWith("istio_vm_agent_report_last_success_timestamp_seconds ")));
      assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(prom)));
      assertFalse(String.join("\n", lines).contains(Files.readString(h.token()).strip()), "the token in the metrics");

      // systemd restarted the sidecar (Restart=): a new main process, NRestarts 1.
      systemd.set(new ServiceState("loaded", "active", "running", 4712, 1, "enabled"));
      stepUntil(h, clock, prom, List.of("istio_vm_agent_sidecar_automatic_restarts_total 1",
          "istio_vm_agent_sidecar_agent_restarts_total 0"), null);

      // The last figures on stop, whatever the interval: the phase says the agent stopped.
      h.daemon.requestStop();
      h.daemon.runOnce(clock.instant());
      assertTrue(Files.readAllLines(prom).contains("istio_vm_agent_phase{phase=\"stopping\"} 1"));
    }
  }

  @Test
  void anIdleDaemonDoesNotRewriteTheFileEveryPass() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      DaemonHarness.ManualClock clock = h.manualClock();
      Path prom = Files.createDirectories(h.root.resolve("var/lib/prometheus/node-exporter"))
          .resolve(TextfileWriter.FILE_NAME);
      h.startDriven();
      stepUntil(h, clock, prom, List.of("istio_vm_agent_phase{phase=\"running\"} 1"), null);
      Object inode = Files.getAttribute(prom, "unix:ino");
      for (int i = 0; i < 60; i++) { // a minute of passes, nothing happening
        clock.advance(AgentDaemon.TICK);
        h.daemon.runOnce(clock.instant());
      }
      assertEquals(inode, Files.getAttribute(prom, "unix:ino"), "rewritten while nothing changed");
    }
  }

  /** Steps the daemon (5 s a pass) until the file holds every line of {@code want} and not {@code notYet}. */
  private static List<String> stepUntil(DaemonHarness h, DaemonHarness.ManualClock clock, Path prom,
      List<String> want, String notYet) throws InterruptedException {
    List<List<String>> seen = new java.util.ArrayList<>(List.of(List.of()));
    try {
      h.await("the metrics file to say " + want, WAIT, () -> {
        clock.advance(Duration.ofSeconds(5));
        h.daemon.runOnce(clock.instant());
        seen.set(0, read(prom));
        return seen.get(0).containsAll(want) && (notYet == null || !seen.get(0).contains(notYet));
      });
    } catch (AssertionError e) {
      throw new AssertionError("the file said:\n" + String.join("\n", seen.get(0)), e);
    }
    return seen.get(0);
  }

  private static List<String> read(Path prom) {
    try {
      return Files.exists(prom) ? Arrays.asList(Files.readString(prom).split("\n")) : List.of();
    } catch (IOException e) {
      return List.of();
    }
  }
}
