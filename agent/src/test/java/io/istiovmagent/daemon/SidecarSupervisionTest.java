package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.FakeSystemctl;
import io.istiovmagent.sidecar.PidfdExitWatcher;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.sidecar.SystemctlServiceManager;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon driving istio.service through a real (fake) systemctl executable, with Envoy's readiness on loopback. */
class SidecarSupervisionTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final String UNIT = "[istio.service]";

  /** The death of the sidecar must reach the status well within this; the safety poll is 30 s. */
  private static final Duration PROMPT = Duration.ofSeconds(2);

  @TempDir
  Path tmp;

  /** Real processes standing in for the sidecar's main process. */
  private final List<Process> sidecars = new ArrayList<>();

  @AfterEach
  void killSidecars() {
    sidecars.forEach(Process::destroyForcibly);
  }

  private Process sidecarProcess() throws IOException {
    Process p = new ProcessBuilder("sleep", "300").start();
    sidecars.add(p);
    return p;
  }

  @Test
  void aSidecarDeathIsSeenAtOnceWithoutAskingSystemdEverySecond() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      DaemonHarness.ManualClock clock = h.manualClock();
      AtomicInteger probes = readyEnvoy(envoy);
      // systemctl and the probe run within the pass (a lane on this thread): what a pass asks is done when it ends.
      FakeSystemctl systemctl = withSystemd(h, envoy, true, new IoLane(Runnable::run));
      Process main = sidecarProcess();
      systemctl.showPrints(show("active", "running", main.pid(), 0, "enabled"));
      h.startDriven();
      h.await("ready in status", WAIT, () -> {
        clock.advance(AgentDaemon.TICK);
        h.daemon.runOnce(clock.instant());
        return h.status().sidecar() != null && Boolean.TRUE.equals(h.status().sidecar().ready())
            && h.status().sidecar().mainPid() == main.pid();
      });

      // Steady, three ticks: the main process is watched, so systemd is not asked every second, nor Envoy.
      int shows = count(systemctl, "[show]");
      int probed = probes.get();
      for (int i = 0; i < 3; i++) {
        clock.advance(AgentDaemon.TICK);
        h.daemon.runOnce(clock.instant());
      }
      assertEquals(shows, count(systemctl, "[show]"), "systemctl show while the watched sidecar runs");
      assertTrue(probes.get() - probed <= 1, (probes.get() - probed) + " readiness probes in 3 ticks while ready");

      // systemd has handled the death by the time the agent asks (Restart=always: activating/auto-restart). The
      // clock stands still from here: no tick is due, so only the exit watch can make the loop look.
      systemctl.showPrints(show("activating", "auto-restart", 0, 1, "enabled"));
      main.destroyForcibly();
      h.await("the death in status", WAIT, () -> {
        h.daemon.runOnce(clock.instant());
        return "activating/auto-restart".equals(h.status().sidecar().state().label());
      });
      assertEquals(AgentStatus.Health.UNHEALTHY, h.status().health());
    }
  }

  @Test
  void aRestartedSidecarsNewProcessIsWatchedInTurn() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      readyEnvoy(envoy);
      FakeSystemctl systemctl = withSystemd(h, envoy, true);
      Process first = sidecarProcess();
      Process second = sidecarProcess();
      systemctl.showPrints(show("active", "running", first.pid(), 0, "enabled"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("the first process in status", WAIT, () -> h.status().sidecar().mainPid() == first.pid()
          && Boolean.TRUE.equals(h.status().sidecar().ready()));

      // systemd replaced the main process (a restart): the old one's exit makes the agent look and find the new one.
      systemctl.showPrints(show("active", "running", second.pid(), 1, "enabled"));
      first.destroyForcibly();
      h.await("the replacement in status", PROMPT, () -> h.status().sidecar().mainPid() == second.pid());
      int shows = count(systemctl, "[show]");

      systemctl.showPrints(show("failed", "failed", 0, 1, "enabled"));
      second.destroyForcibly();
      h.await("the replacement's death in status", PROMPT, () -> "failed/failed".equals(h.status().sidecar().state().label()));
      assertTrue(count(systemctl, "[show]") <= shows + 3, "asked on the death, not polling: "
          + (count(systemctl, "[show]") - shows) + " shows");
    }
  }

  @Test
  void anExitSystemdHasNotHandledYetIsAskedAboutAgainWithinATenthOfASecond() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      readyEnvoy(envoy);
      FakeSystemctl systemctl = withSystemd(h, envoy, true);
      Process main = sidecarProcess();
      systemctl.showPrints(show("active", "running", main.pid(), 0, "enabled"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("ready in status", WAIT, () -> Boolean.TRUE.equals(h.status().sidecar().ready()));
      int shows = count(systemctl, "[show]");
      main.destroyForcibly(); // systemctl keeps naming it: systemd has not handled the exit yet
      // The loop asks every 100 ms for 2 s (the tick alone would ask once a second: 2 looks in 1.5 s).
      h.await("systemd asked four more times", Duration.ofMillis(1500),
          () -> count(systemctl, "[show]") >= shows + 4);
    }
  }

  @Test
  void aMainProcessThatIsAlreadyGoneIsAskedAboutEverySecondNotWatched() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      readyEnvoy(envoy);
      FakeSystemctl systemctl = withSystemd(h, envoy, true);
      Process vanished = sidecarProcess();
      vanished.destroyForcibly().waitFor(); // reaped: systemd names a PID with no process behind it
      systemctl.showPrints(show("active", "running", vanished.pid(), 0, "enabled"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("the unit seen", WAIT, () -> h.status().sidecar().mainPid() == vanished.pid());
      int shows = count(systemctl, "[show]");
      // Catching up (every 100 ms for 2 s), then every second: systemd is bound to say something new soon.
      h.await("systemd asked again", Duration.ofSeconds(5), () -> count(systemctl, "[show]") >= shows + 2);
      Process next = sidecarProcess();
      systemctl.showPrints(show("active", "running", next.pid(), 1, "enabled"));
      h.await("the new process", PROMPT, () -> h.status().sidecar().mainPid() == next.pid());
    }
  }

  @Test
  void withoutAnExitWatcherTheUnitIsAskedAboutEverySecondAsBefore() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      readyEnvoy(envoy);
      FakeSystemctl systemctl = withSystemd(h, envoy, false);
      Process main = sidecarProcess();
      systemctl.showPrints(show("active", "running", main.pid(), 0, "enabled"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("running in status", WAIT, () -> h.status().sidecar().mainPid() == main.pid());
      int shows = count(systemctl, "[show]");
      h.await("two more looks", Duration.ofSeconds(5), () -> count(systemctl, "[show]") >= shows + 2);
    }
  }

  private static AtomicInteger readyEnvoy(MockWebServer envoy) {
    AtomicInteger probes = new AtomicInteger();
    envoy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        probes.incrementAndGet();
        return new MockResponse.Builder().code(200).build();
      }
    });
    return probes;
  }

  @Test
  void startsTheSidecarOnceAndRestartsItOnlyWhenItsConfigurationChanges() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = readyEnvoy()) {
      FakeSystemctl systemctl = withSystemd(h, envoy);
      systemctl.showPrints(show("inactive", "dead", 0, 0, "disabled"));
      AtomicReference<Map<BundleFile, byte[]>> files = new AtomicReference<>(
          new EnumMap<>(SampleBundle.generate(SampleBundle.Spec.defaults(), h.clock.instant())));
      h.respond.set(r -> new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(files.get()))).build());
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("enable and start", WAIT, () -> calls(systemctl).contains("[start][--no-block]" + UNIT));
      assertTrue(calls(systemctl).contains("[enable]" + UNIT));
      systemctl.showPrints(show("active", "running", 4711, 0, "enabled"));
      h.await("ready in status", WAIT, () -> Boolean.TRUE.equals(h.status().sidecar().ready()));
      assertEquals(AgentStatus.Health.HEALTHY, h.status().health(), h.status().reasons().toString());
      assertEquals(4711, h.status().sidecar().mainPid());

      // A new token only: pilot-agent re-reads it, no restart.
      Map<BundleFile, byte[]> tokenOnly = new EnumMap<>(files.get());
      tokenOnly.put(BundleFile.TOKEN, SampleBundle.generate(SampleBundle.Spec.defaults().withTokenLifetime(
          Duration.ofHours(2)), h.clock.instant()).get(BundleFile.TOKEN));
      files.set(tokenOnly);
      h.daemon.requestReload();
      h.await("the new token installed", WAIT, () -> read(h.token()).equals(new String(tokenOnly.get(BundleFile.TOKEN),
          StandardCharsets.US_ASCII)));
      int showsAfterToken = count(systemctl, "[show]");
      h.await("a few more looks at the unit", WAIT, () -> count(systemctl, "[show]") >= showsAfterToken + 2);
      assertFalse(calls(systemctl).stream().anyMatch(c -> c.startsWith("[restart]")), calls(systemctl).toString());

      // A mesh config change: restart.
      Map<BundleFile, byte[]> meshChange = new EnumMap<>(tokenOnly);
      meshChange.put(BundleFile.MESH, (new String(tokenOnly.get(BundleFile.MESH), StandardCharsets.UTF_8)
          + "  holdApplicationUntilProxyStarts: true\n").getBytes(StandardCharsets.UTF_8));
      files.set(meshChange);
      h.daemon.requestReload();
      h.await("restart", WAIT, () -> calls(systemctl).contains("[restart][--no-block]" + UNIT));
      assertEquals(1, count(systemctl, "[start]"), "started once only");
      // Logged once systemctl has returned: the call above can be seen before the line is written.
      h.await("the restart logged", WAIT, () -> h.logs().contains("restarting istio.service: "));
    }
  }

  @Test
  void aRestartedAgentSaysAtOnceThatTheRunningSidecarIsFineNotUnknown() throws Exception {
    // An upgrade restarts the agent while the sidecar runs on: its first status (and first report) must say so,
    // not "istio.service is unknown" (UNHEALTHY) until the loop's first look at the unit.
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = readyEnvoy()) {
      FakeSystemctl systemctl = withSystemd(h, envoy);
      systemctl.showPrints(show("active", "running", 4711, 0, "enabled"));
      h.start();
      h.awaitMessage(m -> m.startsWith("STATUS=HEALTHY"), WAIT);
      h.stop();

      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.messages.clear(); // what the first run sent; the restarted agent's STATUS= follows its READY=1
      String first = h.awaitMessage(m -> m.startsWith("STATUS="), WAIT);
      // DEGRADED only for the source not asked yet (restored, not yet fetched): nothing about the sidecar.
      assertFalse(first.startsWith("STATUS=UNHEALTHY") || first.contains("istio.service"), first);
    }
  }

  @Test
  void detectsACrashLoopAndReportsTheRedactedErrorLog() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      FakeSystemctl systemctl = withSystemd(h, envoy);
      String jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
      Path errLog = Files.createDirectories(h.root.resolve("var/log/istio")).resolve("istio.err.log");
      Files.writeString(errLog, "2026-11-25T12:00:00Z error failed to get token " + jwt + "\n"
          + "2026-11-25T12:00:01Z critical envoy exited: bootstrap config invalid\n");
      systemctl.showPrints(show("active", "running", 100, 0, "enabled"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      for (int pid = 101; pid <= 104; pid++) {
        int shows = count(systemctl, "[show]");
        systemctl.showPrints(show("active", "running", pid, pid - 100, "enabled"));
        h.await("the loop to see pid " + pid, WAIT, () -> count(systemctl, "[show]") >= shows + 2);
      }
      h.await("crash loop in status", WAIT, () -> h.status().sidecar().crashLoop());
      AgentStatus s = h.status();
      assertEquals(AgentStatus.Health.UNHEALTHY, s.health());
      assertTrue(s.reasons().contains("istio.service is crash-looping"), s.reasons().toString());
      List<String> diagnosis = s.sidecar().diagnosis();
      assertTrue(diagnosis.stream().anyMatch(l -> l.contains("bootstrap config invalid")), diagnosis.toString());
      assertTrue(diagnosis.stream().noneMatch(l -> l.contains(jwt)), diagnosis.toString());
      assertFalse(h.logs().contains(jwt));
    }
  }

  @Test
  void saysWhenIstioSidecarIsNotInstalledAndKeepsEverythingElseWorking() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp); MockWebServer envoy = TestTls.startPlain()) {
      FakeSystemctl systemctl = withSystemd(h, envoy);
      systemctl.showPrints("LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n");
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("not-installed in status", WAIT, () -> "not-installed".equals(h.status().sidecar().state().label()));
      assertEquals(AgentStatus.Health.DEGRADED, h.status().health());
      assertTrue(h.status().reasons().contains("istio.service is not installed (install istio-sidecar)"));
      assertTrue(Files.isRegularFile(h.token()));
      assertFalse(calls(systemctl).stream().anyMatch(c -> c.startsWith("[start]")));
    }
  }

  private static FakeSystemctl withSystemd(DaemonHarness h, MockWebServer envoy) throws IOException {
    return withSystemd(h, envoy, false);
  }

  /** @param watchExits whether the sidecar's main process is watched with a real pidfd, as on a VM */
  private static FakeSystemctl withSystemd(DaemonHarness h, MockWebServer envoy, boolean watchExits)
      throws IOException {
    return withSystemd(h, envoy, watchExits, null);
  }

  /** @param lane where systemctl and the probe run; null: a thread of their own, as on a VM */
  private static FakeSystemctl withSystemd(DaemonHarness h, MockWebServer envoy, boolean watchExits, IoLane lane)
      throws IOException {
    Files.createDirectories(h.root.resolve("run/systemd/system"));
    FakeSystemctl systemctl = FakeSystemctl.install(Files.createDirectories(h.dir.resolve("fake-systemctl")));
    String readiness = "http://127.0.0.1:" + envoy.getPort() + "/healthz/ready";
    h.writeConfig(Files.readString(h.configPath).replace("sidecar:\n  manage: false\n",
        "sidecar:\n  readinessUrl: " + readiness + "\n"));
    h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(),
        SystemctlServiceManager.detect(fs, systemctl.binary, Duration.ofSeconds(5)),
        new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs),
        watchExits ? new PidfdExitWatcher("sidecar-exit-watch") : ExitWatcher.none(), log,
        lane != null ? lane : new IoLane("sidecar-io"));
    return systemctl;
  }

  private static String show(String active, String sub, long pid, long restarts, String fileState) {
    return "LoadState=loaded\nActiveState=" + active + "\nSubState=" + sub + "\nMainPID=" + pid + "\nNRestarts="
        + restarts + "\nUnitFileState=" + fileState + "\n";
  }

  private static List<String> calls(FakeSystemctl s) {
    try {
      return s.calls();
    } catch (IOException e) {
      return List.of();
    }
  }

  /** Envoy's readiness endpoint on loopback, always ready (200). */
  private static MockWebServer readyEnvoy() throws IOException {
    MockWebServer envoy = TestTls.startPlain();
    envoy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        return new MockResponse.Builder().code(200).build();
      }
    });
    return envoy;
  }

  private static int count(FakeSystemctl s, String prefix) {
    return (int) calls(s).stream().filter(c -> c.startsWith(prefix)).count();
  }

  private static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      return "";
    }
  }
}
