package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.UnixDatagramReceiver;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.testing.FakeSystemd;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** No single failure in a pass of the loop ends the daemon; a bad last-known-good never gets in. */
class DaemonResilienceTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir
  Path tmp;

  /**
   * Regression: a last-known-good whose token says {@code "exp": null} (saved by an agent that let such a token
   * through) was restored, and the first failed fetch then threw a NullPointerException in BundleKeeper.failed that
   * ended the daemon: a crash loop for as long as the source was down.
   */
  @Test
  void aLastKnownGoodTokenWithANullExpiryIsNotRestoredAndTheDaemonStaysUp() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.stop();
      Path lkg = h.root.resolve("var/lib/istio-vm-agent/last-known-good.json");
      rewriteToken(lkg, claims -> claims.replaceFirst("\"exp\":\\d+", "\"exp\":null"));

      Files.delete(h.token()); // a reboot empties /run
      h.sourceDown();
      h.start();
      h.await("a failed fetch in the status", WAIT, () -> h.status().lastError() != null
          && h.status().lastError().message().startsWith("cannot fetch the bundle"));
      assertTrue(h.logs().contains("the last-known-good bundle no longer verifies"), h.logs());
      assertTrue(h.logs().contains("token-exp"), h.logs());
      assertFalse(Files.exists(h.token()));
      int requests = h.bundleRequests.get();
      h.await("a second failed fetch", WAIT, () -> h.bundleRequests.get() > requests);
      assertTrue(h.running(), "the daemon ended\n" + h.logs());
      assertFalse(h.logs().contains("NullPointerException"), h.logs());
    }
  }

  /** Rewrites the token's claims in a last-known-good record, keeping the record consistent (its revision). */
  private static void rewriteToken(Path lkg, java.util.function.UnaryOperator<String> edit) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(lkg.toFile());
    ObjectNode files = (ObjectNode) root.get("files");
    String token = new String(Base64.getDecoder().decode(files.get("istio-token").asText()), StandardCharsets.US_ASCII)
        .strip();
    String[] parts = token.split("\\.");
    String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
    String edited = edit.apply(claims);
    assertFalse(edited.equals(claims), "the edit changed nothing: " + claims);
    parts[1] = Base64.getUrlEncoder().withoutPadding().encodeToString(edited.getBytes(StandardCharsets.UTF_8));
    files.put("istio-token", Base64.getEncoder().encodeToString(String.join(".", parts)
        .getBytes(StandardCharsets.US_ASCII)));
    Map<BundleFile, byte[]> raw = new EnumMap<>(BundleFile.class);
    files.fields().forEachRemaining(e -> raw.put(BundleFile.byName(e.getKey()).orElseThrow(),
        Base64.getDecoder().decode(e.getValue().asText())));
    root.put("revision", new RawBundle(raw).revision());
    Files.write(lkg, json.writeValueAsBytes(root));
  }

  /** A service manager that throws what the test says (a bug, not a ServiceManagerException) from state(). */
  private static final class FaultyManager implements ServiceManager {
    final FakeSystemd systemd = new FakeSystemd(4242);
    final AtomicReference<RuntimeException> fault = new AtomicReference<>();
    final AtomicInteger thrown = new AtomicInteger();

    @Override
    public boolean available() {
      return true;
    }

    @Override
    public ServiceState state(String unit) {
      RuntimeException f = fault.get();
      if (f != null) {
        thrown.incrementAndGet();
        throw f;
      }
      return systemd.state(unit);
    }

    @Override
    public void start(String unit) {}

    @Override
    public void restart(String unit) {}

    @Override
    public void enable(String unit) {}

    @Override
    public void watch(String unit, Runnable onChange) {
      systemd.watch(unit, onChange);
    }
  }

  @Test
  void aStepThatThrowsIsLoggedOnceShownAsDegradedAndTheLoopGoesOn() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      FaultyManager manager = new FaultyManager();
      h.writeConfig(Files.readString(h.configPath).replace("sidecar:\n  manage: false\n",
          "sidecar:\n  readinessUrl: http://127.0.0.1:9/healthz/ready\n"));
      h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(), manager,
          new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(200)), new SidecarDiagnosis(fs), log);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("the sidecar running", WAIT, () -> "active/running".equals(h.status().sidecar().state().label()));
      // Looked at every second (no exit watcher here), the step now throws on every look.
      manager.fault.set(new IllegalStateException("a bug in the sidecar step"));
      h.await("the step thrown in three passes", WAIT, () -> manager.thrown.get() >= 3);
      h.await("the internal error in the status", WAIT, () -> h.status().lastError() != null
          && h.status().lastError().message().startsWith("internal error: "));
      AgentStatus s = h.status();
      assertEquals(AgentStatus.Health.DEGRADED, s.health());
      assertTrue(s.reasons().stream().anyMatch(r -> r.startsWith("internal error: ")
          && r.contains("IllegalStateException") && r.contains("a bug in the sidecar step")), s.reasons().toString());
      h.awaitMessage(m -> m.startsWith("STATUS=DEGRADED") && m.contains("internal error"), WAIT);
      assertEquals(1, occurrences(h.logs(), "a bug in the sidecar step"), "logged once, not per pass\n" + h.logs());

      // The rest of the pass still runs: a deleted token is put back.
      Files.delete(h.token());
      h.await("the token put back", WAIT, () -> Files.isRegularFile(h.token()));
      assertTrue(h.running());

      manager.fault.set(null);
      manager.systemd.set(manager.systemd.state("istio.service")); // wakes the supervisor to look again
      h.await("the error cleared", WAIT, () -> h.status().lastError() == null
          && "active/running".equals(h.status().sidecar().state().label()));
      assertTrue(h.logs().contains("works again"), h.logs());
      assertEquals(1, occurrences(h.logs(), "a bug in the sidecar step"), h.logs());
    }
  }

  static int occurrences(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * Regression (issue 12, 5): a typo in config.yaml exited 78 before the last-known-good was restored, so after a
   * reboot istio.service started without its token.
   */
  @Test
  void aConfigTypoAfterARebootStillRestoresTheTokenAndAFixIsPickedUp() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      String good = Files.readString(h.configPath);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      byte[] token = Files.readAllBytes(h.token());
      h.stop();

      Files.delete(h.token()); // a reboot empties /run
      Files.delete(h.root.resolve("run/istio-vm-agent/status.json"));
      h.writeConfig(good.replace("  caFile:", "  caFlie:"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      assertTrue(java.util.Arrays.equals(token, Files.readAllBytes(h.token())), "the token is back");
      h.await("the configuration error in the status", WAIT, () -> h.status().lastError() != null
          && h.status().lastError().message().contains("unknown key 'bundle.caFlie'"));
      h.awaitMessage(m -> m.startsWith("STATUS=") && m.contains("bundle.caFlie"), WAIT);
      assertEquals(AgentStatus.Health.DEGRADED, h.status().health());
      assertTrue(h.running());

      h.writeConfig(good);
      h.await("the fixed configuration in force", WAIT, () -> h.status().lastError() == null
          && h.status().health() == AgentStatus.Health.HEALTHY);
      assertTrue(h.running());
    }
  }

  /** Without a copy of a configuration that loaded, the default paths still find the last-known-good. */
  @Test
  void aConfigTypoWithNoEarlierConfigurationStillRestoresTheTokenFromTheDefaultPaths() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      String good = Files.readString(h.configPath);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.stop();
      Files.deleteIfExists(h.root.resolve("var/lib/istio-vm-agent/last-good-config.yaml"));
      Files.delete(h.token());
      h.writeConfig("bundle:\n  sorce: x\n");
      // The defaults manage istio.service; there is no systemd here.
      h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(), ServiceManager.unavailable("test root"),
          new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(200)), new SidecarDiagnosis(fs), log);
      h.start();
      h.await("the token back", WAIT, () -> Files.isRegularFile(h.token()));
      h.await("the configuration error in the status", WAIT, () -> h.status().lastError() != null
          && h.status().lastError().message().contains("unknown key 'bundle.sorce'"));
      assertNotNull(h.status().bundle());
      h.awaitMessage(m -> m.startsWith("STATUS=") && m.contains("bundle.sorce"), WAIT);
      h.writeConfig(good);
      h.await("the fixed configuration in force", WAIT, () -> h.status().lastError() == null
          && h.status().health() == AgentStatus.Health.HEALTHY);
    }
  }

  /** Regression: a failing WATCHDOG=1 was never logged; systemd's SIGABRT came with no line saying why. */
  @Test
  void aNotifySocketThatGoesAwayIsLoggedOnceAndItsReturnToo() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.watchdog = Optional.of(new WatchdogSettings(Duration.ofMillis(400)));
      AtomicInteger failed = new AtomicInteger();
      h.notifier = real -> new Notifier() {
        @Override
        public boolean enabled() {
          return real.enabled();
        }

        @Override
        public boolean send(String state) {
          boolean sent = real.send(state);
          if (!sent) {
            failed.incrementAndGet();
          }
          return sent;
        }

        @Override
        public Optional<String> lastError() {
          return real.lastError();
        }

        @Override
        public OptionalInt lastErrno() {
          return real.lastErrno();
        }
      };
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.awaitMessage("WATCHDOG=1"::equals, WAIT);
      h.notify.close(); // systemd's socket goes away (the file stays: ECONNREFUSED)
      h.await("five failed sends", WAIT, () -> failed.get() >= 5);
      assertEquals(1, occurrences(h.logs(), "to systemd (errno 111)"), "logged once, not per ping\n" + h.logs());
      assertTrue(h.logs().lines().anyMatch(l -> l.startsWith("<3>cannot send ") && l.contains("(errno 111)")),
          h.logs());

      Files.delete(h.notifySocket());
      h.notify = UnixDatagramReceiver.atPath(h.notifySocket());
      h.awaitMessage("WATCHDOG=1"::equals, WAIT);
      h.await("the recovery logged", WAIT, () -> h.logs().contains("notifying systemd works again"));
      assertTrue(h.running());
    }
  }
}
