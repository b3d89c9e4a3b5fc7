package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.PidfdExitWatcher;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.testing.FakeSystemd;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor between its loop passes, with time passed in and systemctl's calls run within the tick: a real `sleep` as the sidecar's main process, watched
 * through a real pidfd; systemd's answers and Envoy's are counted.
 */
class SidecarSupervisorWatchTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
  private static final Duration PROMPT = Duration.ofSeconds(2);
  private static final String UNIT = "istio.service";

  @TempDir
  Path tmp;

  private final List<Process> processes = new ArrayList<>();
  private final FakeSystemd systemd = new FakeSystemd(0);
  private final Semaphore wakes = new Semaphore(0);
  private final AtomicInteger probes = new AtomicInteger();
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private MockWebServer envoy;
  private SidecarSupervisor supervisor;

  @BeforeEach
  void setUp() throws Exception {
    envoy = TestTls.startPlain();
    envoy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        probes.incrementAndGet();
        return new MockResponse.Builder().code(200).build();
      }
    });
  }

  @AfterEach
  void tearDown() throws Exception {
    if (supervisor != null) {
      supervisor.close();
    }
    processes.forEach(Process::destroyForcibly);
    envoy.close();
  }

  private SidecarSupervisor supervisor(ExitWatcher exits) {
    supervisor = new SidecarSupervisor(UNIT, systemd, new ReadinessProbe("http://127.0.0.1:" + envoy.getPort()
        + "/healthz/ready", Duration.ofMillis(500)), new SidecarDiagnosis(new RootFs(tmp)), exits,
        new Log(new PrintStream(logs, true, StandardCharsets.UTF_8), true), new IoLane(Runnable::run));
    supervisor.watch(wakes::release);
    return supervisor;
  }

  private Process sleeper() throws IOException {
    Process p = new ProcessBuilder("sleep", "300").start();
    processes.add(p);
    return p;
  }

  private static ServiceState running(long pid, long restarts) {
    return new ServiceState("loaded", "active", "running", pid, restarts, "enabled");
  }

  private static Instant at(long millis) {
    return T0.plusMillis(millis);
  }

  @Test
  void aWatchedSidecarIsAskedAboutEveryMinuteAndItsDeathWakesTheLoopAtOnce() throws Exception {
    Process main = sleeper();
    systemd.setQuietly(running(main.pid(), 0));
    SidecarSupervisor s = supervisor(new PidfdExitWatcher("test-sidecar-exit-watch"));
    s.tick(at(0));
    assertEquals(1, systemd.shows());
    assertEquals(1, probes.get(), "Envoy asked at once about a new main process");
    assertEquals(at(15_000), s.nextDue(), "ready: the next thing due is the probe in 15 s");
    for (long t = 1_000; t < 60_000; t += 1_000) {
      s.tick(at(t));
    }
    assertEquals(1, systemd.shows(), "not asked again within the safety interval");
    assertEquals(4, probes.get(), "ready: probed every 15 s (0, 15, 30, 45 s)");
    s.tick(at(60_000));
    assertEquals(2, systemd.shows(), "the safety poll");

    systemd.setQuietly(new ServiceState("loaded", "activating", "auto-restart", 0, 1, "enabled"));
    main.destroyForcibly();
    assertTrue(wakes.tryAcquire(PROMPT.toMillis(), TimeUnit.MILLISECONDS), "the death woke the loop");
    assertEquals(Instant.MIN, s.nextDue(), "due at once");
    s.tick(at(60_500));
    assertEquals(3, systemd.shows());
    assertEquals("activating/auto-restart", s.status().state().label());
    assertEquals(null, s.status().ready(), "no readiness for a sidecar that is not running");
    s.tick(at(61_000));
    assertEquals(3, systemd.shows(), "not running: every second");
    s.tick(at(61_500));
    assertEquals(4, systemd.shows());

    Process restarted = sleeper();
    systemd.setQuietly(running(restarted.pid(), 1));
    s.tick(at(62_500));
    assertEquals(restarted.pid(), s.status().mainPid());
    restarted.destroyForcibly();
    assertTrue(wakes.tryAcquire(PROMPT.toMillis(), TimeUnit.MILLISECONDS), "the restarted process is watched too");
  }

  @Test
  void anExitSystemdHasNotHandledYetIsAskedAboutAgainWithinATenthOfASecond() throws Exception {
    Process main = sleeper();
    systemd.setQuietly(running(main.pid(), 0));
    SidecarSupervisor s = supervisor(new PidfdExitWatcher("test-sidecar-exit-watch"));
    s.tick(at(0));
    main.destroyForcibly();
    assertTrue(wakes.tryAcquire(PROMPT.toMillis(), TimeUnit.MILLISECONDS));
    s.tick(at(1_000)); // systemd still names the dead process
    assertEquals(2, systemd.shows());
    assertEquals(at(1_100), s.nextDue());
    s.tick(at(1_100));
    assertEquals(3, systemd.shows());
    s.tick(at(3_000)); // 2 s after the exit: back to every second
    assertEquals(at(4_000), s.nextDue());
  }

  @Test
  void aMainProcessGoneBeforeItCouldBeWatchedIsAskedAboutSoon() throws Exception {
    Process gone = sleeper();
    gone.destroyForcibly().waitFor();
    systemd.setQuietly(running(gone.pid(), 0));
    SidecarSupervisor s = supervisor(new PidfdExitWatcher("test-sidecar-exit-watch"));
    s.tick(at(0));
    assertEquals(at(100), s.nextDue());
  }

  @Test
  void withoutAnExitWatcherEverySecondAsBeforeAndSaysWhyOnce() throws Exception {
    Process main = sleeper();
    systemd.setQuietly(running(main.pid(), 0));
    SidecarSupervisor s = supervisor(ExitWatcher.none());
    for (long t = 0; t <= 3_000; t += 1_000) {
      s.tick(at(t));
    }
    assertEquals(4, systemd.shows());
    String log = logs.toString(StandardCharsets.UTF_8);
    assertTrue(log.contains("cannot watch istio.service's main process for its exit"), log);
    assertEquals(log.indexOf("cannot watch"), log.lastIndexOf("cannot watch"), "said once");
  }

  @Test
  void aNewBundleIsActedOnAtOnceNotAtTheNextSafetyPoll() throws Exception {
    Process main = sleeper();
    systemd.setQuietly(running(main.pid(), 0));
    SidecarSupervisor s = supervisor(new PidfdExitWatcher("test-sidecar-exit-watch"));
    s.tick(at(0));
    s.bundleInstalled(new InstallReport("sha256:0", List.of(), List.of()), true, null);
    assertEquals(Instant.MIN, s.nextDue());
    s.tick(at(100));
    assertEquals(2, systemd.shows());
  }
}
