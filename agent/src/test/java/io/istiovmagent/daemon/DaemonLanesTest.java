package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceManagerException;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.systemd.WatchdogSettings;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import okio.Buffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's parts off the loop thread and across reloads: a systemctl that hangs, an intent that outlives the
 * supervisor it was given to, a rewrite of config.yaml that says what it said.
 */
class DaemonLanesTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
  /** The longest a call may hang in these tests; the latch is released at the end of each. */
  private static final Duration HANG = Duration.ofSeconds(60);

  @TempDir
  Path tmp;

  /** systemd as the test scripts it: a state, the actions recorded, and a call that may hang on a latch. */
  static final class Systemd implements ServiceManager {
    volatile ServiceState state;
    volatile String hangIn = "";
    final CountDownLatch hanging = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<String> calls = new CopyOnWriteArrayList<>();
    private final List<Runnable> watchers = new CopyOnWriteArrayList<>();

    Systemd(ServiceState state) {
      this.state = state;
    }

    void set(ServiceState s) {
      state = s;
      watchers.forEach(Runnable::run);
    }

    private void call(String what) throws ServiceManagerException {
      calls.add(what);
      if (what.equals(hangIn)) {
        hanging.countDown();
        try {
          release.await(HANG.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ServiceManagerException(ServiceManagerException.Kind.TIMED_OUT, "interrupted");
        }
      }
    }

    @Override
    public boolean available() {
      return true;
    }

    @Override
    public ServiceState state(String unit) throws ServiceManagerException {
      call("show");
      return state;
    }

    @Override
    public void start(String unit) throws ServiceManagerException {
      call("start");
      ServiceState s = state;
      state = new ServiceState("loaded", "active", "running", 4711, s.nRestarts(), s.unitFileState());
    }

    @Override
    public void restart(String unit) throws ServiceManagerException {
      call("restart");
    }

    @Override
    public void enable(String unit) throws ServiceManagerException {
      call("enable");
      ServiceState s = state;
      state = new ServiceState(s.loadState(), s.activeState(), s.subState(), s.mainPid(), s.nRestarts(), "enabled");
    }

    @Override
    public void watch(String unit, Runnable onChange) {
      watchers.add(onChange);
    }
  }

  private static ServiceState notInstalled() {
    return new ServiceState("not-found", "inactive", "dead", 0, 0, "");
  }

  private static ServiceState stopped() {
    return new ServiceState("loaded", "inactive", "dead", 0, 0, "disabled");
  }

  private static void supervised(DaemonHarness h, Systemd systemd, String readinessUrl) throws Exception {
    h.writeConfig(Files.readString(h.configPath).replaceAll("sidecar:\\n(  .*\\n)*",
        "sidecar:\n  readinessUrl: " + readinessUrl + "\n"));
    h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(), systemd,
        new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs),
        ExitWatcher.none(), log);
  }

  /**
   * Regression: systemctl ran on the loop thread (up to three calls of 10 s per look), so a systemd that did not
   * answer held up WATCHDOG=1, READY=1 and the status, and systemd killed the agent for it.
   */
  @Test
  void aSystemctlShowThatHangsStarvesNeitherTheWatchdogNorTheStatus() throws Exception {
    hangingSystemctlLeavesTheLoopRunning("show", new ServiceState("loaded", "active", "running", 4711, 0, "enabled"));
  }

  @Test
  void aSystemctlStartThatHangsStarvesNeitherTheWatchdogNorTheStatus() throws Exception {
    hangingSystemctlLeavesTheLoopRunning("start", stopped());
  }

  private void hangingSystemctlLeavesTheLoopRunning(String call, ServiceState initial) throws Exception {
    Systemd systemd = new Systemd(initial);
    systemd.hangIn = call;
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      supervised(h, systemd, "http://127.0.0.1:9/healthz/ready");
      h.watchdog = Optional.of(new WatchdogSettings(Duration.ofSeconds(1)));
      h.start();
      assertTrue(systemd.hanging.await(WAIT.toSeconds(), TimeUnit.SECONDS), "systemctl " + call + " was called");
      h.awaitMessage("READY=1"::equals, WAIT);
      h.messages.clear();
      for (int i = 0; i < 4; i++) {
        h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(2)); // every 0.5 s while systemctl hangs
      }
      assertEquals("unknown", h.status().sidecar().state().label());
      assertEquals(1, systemd.calls.stream().filter(call::equals).count(), "no second call while one hangs");
      long start = System.nanoTime();
      assertEquals(0, h.stop());
      assertTrue(Duration.ofNanos(System.nanoTime() - start).compareTo(Duration.ofSeconds(3)) < 0,
          "the stop waited for systemctl");
    } finally {
      systemd.release.countDown();
    }
  }

  /**
   * Regression: a DNS-only gateway's name was resolved on the loop thread, with no timeout, when the fetched bundle
   * was installed: a resolver that did not answer held up WATCHDOG=1.
   */
  @Test
  void aGatewayNameThatDoesNotResolveDoesNotStarveTheWatchdog() throws Exception {
    CountDownLatch resolving = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.writeConfig(Files.readString(h.configPath) + "hosts:\n  gatewayHostname: eastwest.mesh.example\n");
      h.respond.set(r -> {
        var files = SampleBundle.generate(SampleBundle.Spec.defaults(), h.clock.instant());
        files.put(BundleFile.HOSTS, new byte[0]);
        return new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(files))).build();
      });
      h.resolver = host -> {
        resolving.countDown();
        try {
          release.await(HANG.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        throw new UnknownHostException(host);
      };
      h.watchdog = Optional.of(new WatchdogSettings(Duration.ofSeconds(1)));
      h.start();
      assertTrue(resolving.await(WAIT.toSeconds(), TimeUnit.SECONDS), "the gateway's name was looked up");
      h.messages.clear();
      while (h.notify.poll().isPresent()) {
        // pings from before the lookup, still queued at the socket
      }
      for (int i = 0; i < 4; i++) {
        h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(2)); // every 0.5 s while DNS does not answer
      }
      release.countDown();
      h.awaitMessage("READY=1"::equals, WAIT);
    } finally {
      release.countDown();
    }
  }

  /**
   * Regression: the start wanted by the first install lived in the supervisor, which a reload replaced; istio-sidecar
   * installed after that reload was never enabled nor started.
   */
  @Test
  void aStartWantedBeforeIstioSidecarWasInstalledSurvivesAReload() throws Exception {
    Systemd systemd = new Systemd(notInstalled());
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      supervised(h, systemd, "http://127.0.0.1:9/healthz/ready");
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("not-installed in status", WAIT, () -> "not-installed".equals(h.status().sidecar().state().label()));
      assertFalse(systemd.calls.contains("start"));

      supervised(h, systemd, "http://127.0.0.1:10/healthz/ready"); // the sidecar's section changed
      h.daemon.requestReload();
      h.awaitMessage(m -> m.startsWith("RELOADING=1"), WAIT);
      h.awaitMessage("READY=1"::equals, WAIT);

      systemd.set(stopped()); // apt-get install istio-sidecar
      h.await("istio.service enabled and started", WAIT,
          () -> systemd.calls.contains("enable") && systemd.calls.contains("start"));
      h.await("running in status", WAIT, () -> h.status().sidecar().mainPid() == 4711);
    }
  }

  /** Regression: any change of config.yaml, even a rewrite of the same text, rebuilt every part and fetched anew. */
  @Test
  void anIdenticalRewriteOfTheConfigurationChangesNothing() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("the bundle in status", WAIT, () -> h.status().bundle() != null && h.status().nextRefreshAt() != null);
      int requests = h.bundleRequests.get();
      Instant nextRefresh = h.status().nextRefreshAt();

      h.writeConfig(Files.readString(h.configPath)); // a new file with the same text (cloud-init, config management)
      h.await("the rewrite seen", WAIT, () -> h.logs().contains("nothing to reload"));
      assertFalse(h.logs().contains("reloading configuration"), h.logs());
      assertEquals(requests, h.bundleRequests.get(), "fetched again");
      assertEquals(nextRefresh, h.status().nextRefreshAt());
      assertTrue(h.messages.stream().noneMatch(m -> m.startsWith("RELOADING=1")), h.messages.toString());
    }
  }
}
