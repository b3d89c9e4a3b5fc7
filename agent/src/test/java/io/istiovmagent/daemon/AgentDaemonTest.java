package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.install.HostsBlock;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `run`, in-process: the real loop against a temporary root, HTTPS on loopback and a real notify socket. */
class AgentDaemonTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir
  Path tmp;

  @Test
  void sendsReadyOnceTheFirstBundleIsInPlace() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      assertTrue(Files.isRegularFile(h.token()), "READY=1 came before the token was in place");
      assertTrue(Files.readString(h.root.resolve("etc/hosts")).contains(HostsBlock.BEGIN));
      AgentStatus s = h.status();
      assertEquals(AgentStatus.Phase.RUNNING, s.phase());
      assertEquals(AgentStatus.Health.HEALTHY, s.health(), s.reasons().toString());
      assertFalse(s.bundle().fromLastKnownGood());
      assertEquals(0, h.stop());
      assertEquals(AgentStatus.Phase.STOPPING, h.status().phase());
    }
  }

  @Test
  void pingsTheWatchdogWhileTheLoopRunsAndStopsWhenItIsWedged() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.watchdog = Optional.of(new WatchdogSettings(Duration.ofMillis(400)));
      // The loop wedged where its wait ends, before the next pass (and its ping): a pass that never ends looks the
      // same to systemd. Not before the wait: the pass just ended would have pinged an instant before the wedge.
      AtomicBoolean wedge = new AtomicBoolean();
      CountDownLatch wedged = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      h.ticker = new Ticker() {
        @Override
        public <E> E await(BlockingQueue<E> events, long millis) throws InterruptedException {
          E e = Ticker.QUEUE.await(events, millis);
          if (wedge.get()) {
            wedged.countDown();
            release.await();
          }
          return e;
        }
      };
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      for (int i = 0; i < 3; i++) {
        h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(3));
      }
      wedge.set(true);
      assertTrue(wedged.await(5, java.util.concurrent.TimeUnit.SECONDS));
      // What the loop sent before it was wedged is queued on the socket by now (a datagram is there when sendto
      // returns): drop it, and all that was received before.
      while (h.notify.poll().isPresent()) {
        continue;
      }
      h.messages.clear();
      // The loop is stuck: over five ping intervals not one WATCHDOG=1 may arrive (systemd would kill us).
      assertThrows(AssertionError.class, () -> h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(1)));
      wedge.set(false);
      release.countDown();
      h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(3));
    }
  }

  /**
   * Regression: the fetch ran on the loop itself, so a source that accepted the request and then said nothing held
   * the loop for up to twice bundle.timeout (60 s by default) with no WATCHDOG=1: with the unit's WatchdogSec=30s,
   * systemd killed and restarted the agent for a slow control plane. SIGTERM waited for the fetch too.
   */
  @Test
  void aStalledSourceHoldsUpNeitherTheWatchdogNorAStop() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.watchdog = Optional.of(new WatchdogSettings(Duration.ofSeconds(1)));
      h.writeConfig(Files.readString(h.configPath).replace("bundle:\n", "bundle:\n  timeout: 4s\n"));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      int before = h.bundleRequests.get();
      // Half the archive, then nothing: the read waits for its timeout.
      h.respond.set(r -> new MockResponse.Builder(h.bundleResponse(io.istiovmagent.sample.SampleBundle.Spec.defaults()))
          .onResponseBody(mockwebserver3.SocketEffect.Stall.INSTANCE).build());
      h.daemon.requestReload(); // fetch now
      h.await("the request that stalls", WAIT, () -> h.bundleRequests.get() > before);
      h.messages.clear();
      while (h.notify.poll().isPresent()) {
        // pings from before the stall, still queued at the socket
      }
      for (int i = 0; i < 3; i++) {
        h.awaitMessage("WATCHDOG=1"::equals, Duration.ofSeconds(2)); // every 0.5 s, while the fetch waits 4 s
      }
      long start = System.nanoTime();
      assertEquals(0, h.stop());
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "the stop waited for the stalled fetch: " + took);
    }
  }

  @Test
  void restoresTheTokenAfterARebootWithTheSourceDownAndStillReportsReady() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      byte[] token = Files.readAllBytes(h.token());
      h.stop();

      Files.delete(h.token()); // a reboot empties /run
      h.sourceDown();
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      assertArrayEquals(token, Files.readAllBytes(h.token()));
      h.await("a failed fetch in the status", WAIT, () -> h.status().lastError() != null);
      String logs = h.logs();
      int secondStart = logs.lastIndexOf("starting (root");
      int ready = logs.indexOf("ready: bundle", secondStart);
      int fetchFailed = logs.indexOf("cannot fetch the bundle", secondStart);
      assertTrue(ready > 0 && fetchFailed > ready, "READY=1 must come from the restore, before the source is asked\n"
          + logs);
      AgentStatus s = h.status();
      assertTrue(s.bundle().fromLastKnownGood());
      assertEquals(AgentStatus.Health.DEGRADED, s.health());
      assertTrue(s.lastError().message().contains("unavailable (HTTP 503"), s.lastError().message());
      java.io.StringWriter out = new java.io.StringWriter();
      int code = io.istiovmagent.cli.Main.run(java.time.Clock.systemUTC(), new java.io.PrintWriter(out, true),
          new java.io.PrintWriter(new java.io.StringWriter()), "--root", h.root.toString(), "status");
      assertEquals(1, code, "status of a degraded agent\n" + out);
      assertTrue(out.toString().startsWith("istio-vm-agent DEGRADED (running"), out.toString());
      assertTrue(out.toString().contains("(restored from last-known-good)"), out.toString());
      assertTrue(out.toString().contains("last error         cannot fetch the bundle:"), out.toString());
    }
  }

  @Test
  void restoresAnExpiredTokenWithAWarningRatherThanNothing() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.tokenLifetime = Duration.ofSeconds(2);
      h.clock = DaemonHarness.fast(1);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.stop();
      Files.delete(h.token());
      h.sourceDown();
      h.clock = java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ofMinutes(5));
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      assertTrue(Files.isRegularFile(h.token()));
      assertTrue(h.logs().contains("last-known-good: istio-token: token-expired"), h.logs());
      h.await("degraded status", WAIT, () -> h.status().reasons().stream().anyMatch(r -> r.startsWith("token expired")));
    }
  }

  @Test
  void replacesAShortLivedTokenBeforeItExpires() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.clock = DaemonHarness.fast(100); // a 10-minute token lives 6 real seconds
      h.tokenLifetime = Duration.ofMinutes(10);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      Set<String> seen = new HashSet<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (seen.size() < 3 && System.nanoTime() < deadline) {
        String jwt = Files.readString(h.token()).strip();
        Instant exp = expiry(jwt);
        Instant now = h.clock.instant();
        assertTrue(exp.isAfter(now), "the installed token expired at " + exp + ", now " + now + "\n" + h.logs());
        seen.add(jwt);
        Thread.sleep(20);
      }
      assertEquals(3, seen.size(), "expected two refreshes within 20 s\n" + h.logs());
    }
  }

  @Test
  void anUnchangedBundleCostsA304AndNoDiskWrite() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.clock = DaemonHarness.fast(100); // refreshInterval 10s = 0.1 real seconds
      h.writeConfig(Files.readString(h.configPath).replace("bundle:\n", "bundle:\n  refreshInterval: 10s\n"));
      byte[] archive = io.istiovmagent.bundle.TarGzWriter.write(
          io.istiovmagent.sample.SampleBundle.generate(io.istiovmagent.sample.SampleBundle.Spec.defaults(), h.clock.instant()));
      java.util.concurrent.atomic.AtomicInteger notModified = new java.util.concurrent.atomic.AtomicInteger();
      h.respond.set(r -> {
        if ("\"v1\"".equals(r.getHeaders().get("If-None-Match"))) {
          notModified.incrementAndGet();
          return new MockResponse.Builder().code(304).build();
        }
        return new MockResponse.Builder().addHeader("ETag", "\"v1\"").body(new okio.Buffer().write(archive)).build();
      });
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("status written", WAIT, () -> h.status().bundle() != null);
      Map<String, String> before = TreeSnapshot.of(h.root.resolve("etc"));
      Map<String, String> varBefore = TreeSnapshot.of(h.root.resolve("var"));
      h.await("five conditional refreshes", WAIT, () -> notModified.get() >= 5);
      assertEquals(notModified.get() + 1, h.bundleRequests.get(), "every refresh after the first was a 304");
      assertEquals(before, TreeSnapshot.of(h.root.resolve("etc")));
      assertEquals(varBefore, TreeSnapshot.of(h.root.resolve("var")));
    }
  }

  @Test
  void restoresTheHostsBlockWhenSomethingRewritesEtcHosts() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      Path hosts = h.root.resolve("etc/hosts");
      String managed = Files.readString(hosts);
      Files.writeString(hosts, TestBundles.FOREIGN_HOSTS + "10.1.2.3 added-by-admin\n");
      h.await("the block back in /etc/hosts", Duration.ofSeconds(5),
          () -> read(hosts).contains(HostsBlock.BEGIN));
      assertTrue(read(hosts).contains("10.1.2.3 added-by-admin\n"), "the admin's line is kept");
      assertEquals(managed.replace(TestBundles.FOREIGN_HOSTS, TestBundles.FOREIGN_HOSTS + "10.1.2.3 added-by-admin\n"),
          read(hosts));
      h.await("the repair in status.json", WAIT, () -> h.status().hosts().repairs() == 1);
    }
  }

  /** Where the time to READY=1 went, at debug level, once: each phase of the start, the fetch's TLS handshake. */
  @Test
  void logsWhereTheStartUpTimeWentOnceReady() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("the start-up line", WAIT, () -> h.logs().contains("start-up: "));
      String line = h.logs().lines().filter(l -> l.contains("start-up: ")).findFirst().orElseThrow();
      assertTrue(line.matches("<7>start-up: (JVM start to main ~\\d+ ms, )?command line [0-9.]+ ms, "
          + "daemon's parts [0-9.]+ ms, configuration [0-9.]+ ms, bundle source and TLS trust [0-9.]+ ms, reporter [0-9.]+ ms, "
          + "last-known-good [0-9.]+ ms, first status [0-9.]+ ms, fetch [0-9.]+ ms \\(TLS handshake [0-9.]+ ms\\), "
          + "verify [0-9.]+ ms, plan and install [0-9.]+ ms; READY=1 [0-9.]+ ms after main.*"), line);

      // A reload fetches at once; the server hands out a new bundle, which is installed: not timed again.
      h.daemon.requestReload();
      h.await("a second install", WAIT, () -> h.logs().lines().filter(l -> l.contains("applied bundle")).count() == 2);
      assertEquals(1, h.logs().lines().filter(l -> l.contains("start-up: ")).count(), "only the first start");
    }
  }

  @Test
  void anIdleLoopWorksOutItsStatusOnlyWhenSomethingHappens() throws Exception {
    // Every second the loop looks at the installed files and the config; it works the whole status out again (and
    // offers it to systemd, status.json and the reporter) only when something happened, or every PUBLISH_EVERY.
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      DaemonHarness.ManualClock clock = h.manualClock();
      h.startDriven();
      // The fetch runs on a thread of its own: passes (a tick apart) until its bundle is in place.
      h.await("the bundle installed", WAIT, () -> {
        clock.advance(AgentDaemon.TICK);
        h.daemon.runOnce(clock.instant());
        return h.status().bundle() != null;
      });
      // That pass published the installed bundle; four ticks of an idle loop follow, within PUBLISH_EVERY of it.
      long before = h.daemon.publishes();
      for (int i = 0; i < 4; i++) {
        clock.advance(AgentDaemon.TICK);
        h.daemon.runOnce(clock.instant());
      }
      assertEquals(before, h.daemon.publishes(), "statuses worked out in four idle ticks");
      clock.advance(AgentDaemon.PUBLISH_EVERY);
      h.daemon.runOnce(clock.instant());
      assertEquals(before + 1, h.daemon.publishes(), "every PUBLISH_EVERY, for what changes with time alone");

      Files.writeString(h.root.resolve("etc/hosts"), TestBundles.FOREIGN_HOSTS);
      clock.advance(AgentDaemon.TICK);
      h.daemon.runOnce(clock.instant());
      assertEquals(1, h.status().hosts().repairs(), "what happens is repaired and published in its pass");
      assertEquals(before + 2, h.daemon.publishes());
    }
  }

  @Test
  void putsBackADeletedTokenWhileRunning() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      byte[] token = Files.readAllBytes(h.token());
      Files.delete(h.token());
      h.await("the token back", Duration.ofSeconds(5), () -> Files.exists(h.token()));
      assertArrayEquals(token, Files.readAllBytes(h.token()));
    }
  }

  @Test
  void repairsAnEditThatKeptSizeAndMtimeWithinSeconds() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      Path env = h.root.resolve("var/lib/istio/envoy/cluster.env");
      byte[] good = Files.readAllBytes(env);
      java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(env);
      byte[] edited = good.clone();
      edited[edited.length - 2] = (byte) (edited[edited.length - 2] == 'x' ? 'y' : 'x');
      Files.write(env, edited); // same inode, same size
      Files.setLastModifiedTime(env, mtime); // as `cp -p` or `touch -r` leave it: only ctime tells
      // Well before the 30 s full check: the stamp's ctime gives the edit away.
      h.await("cluster.env repaired", Duration.ofSeconds(5), () -> {
        try {
          return java.util.Arrays.equals(good, Files.readAllBytes(env));
        } catch (java.io.IOException e) {
          return false;
        }
      });
    }
  }

  @Test
  void aRefusedRefreshChangesNothingAndIsReported() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("status written", WAIT, () -> h.status().bundle() != null);
      Map<String, String> before = TreeSnapshot.of(h.root.resolve("etc"));
      Map<String, String> lkgBefore = TreeSnapshot.of(h.root.resolve("var"));
      h.respond.set(r -> h.bundleResponse(new io.istiovmagent.sample.SampleBundle.Spec("other-ns", "vm-sa", "g",
          "cluster.local", "127.0.0.1", Duration.ofHours(1), Duration.ofDays(30))));
      h.daemon.requestReload();
      h.await("the refusal in status", WAIT, () -> h.status().lastError() != null
          && h.status().lastError().message().startsWith("bundle refused: hosts:1: hosts-address"));
      assertEquals(before, TreeSnapshot.of(h.root.resolve("etc")));
      assertEquals(lkgBefore, TreeSnapshot.of(h.root.resolve("var")));
      assertEquals(AgentStatus.Health.DEGRADED, h.status().health());
    }
  }

  @Test
  void aRejectedCredentialIsReportedAndTheDaemonStaysUpWithoutReady() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.respond.set(r -> new MockResponse.Builder().code(401).build());
      h.start();
      h.await("credential rejected in status", WAIT, () -> {
        AgentStatus s = status(h);
        return s != null && s.lastError() != null && s.lastError().message().contains("credential rejected");
      });
      AgentStatus s = h.status();
      assertEquals(AgentStatus.Phase.WAITING_FOR_BUNDLE, s.phase());
      assertEquals(AgentStatus.Health.UNHEALTHY, s.health());
      assertTrue(s.nextRefreshAt().isAfter(Instant.now().plusSeconds(60)), "401 is not retried hot: " + s.nextRefreshAt());
      assertTrue(h.messages.stream().noneMatch("READY=1"::equals));
      assertEquals(1, h.bundleRequests.get());
    }
  }

  @Test
  void waitsForConfigurationAndPicksUpAConfigWrittenLater() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      String full = Files.readString(h.configPath);
      h.writeConfig("sidecar:\n  manage: false\n");
      h.start();
      // Unconfigured is a started state (dpkg -i starts the agent before anyone configured it).
      h.awaitMessage("READY=1"::equals, WAIT);
      h.awaitMessage(m -> m.startsWith("STATUS=waiting for configuration"), WAIT);
      assertEquals(AgentStatus.Phase.WAITING_FOR_CONFIGURATION, h.status().phase());
      assertEquals(AgentStatus.Health.UNHEALTHY, h.status().health());
      h.writeConfig(full);
      h.await("the bundle installed from the new configuration", WAIT, () -> Files.isRegularFile(h.token()));
      h.awaitMessage(m -> m.startsWith("STATUS=HEALTHY"), WAIT);
    }
  }

  @Test
  void reloadsOnRequestAndSaysSoToSystemd() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.daemon.requestReload();
      String reloading = h.awaitMessage(m -> m.startsWith("RELOADING=1"), WAIT);
      assertTrue(reloading.matches("RELOADING=1\nMONOTONIC_USEC=\\d+"), reloading);
      h.awaitMessage("READY=1"::equals, WAIT);
    }
  }

  @Test
  void aBrokenConfigAtStartIsReportedWithTheKeyAndTheAgentKeepsRunning() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.writeConfig("bundle:\n  sorce: x\n");
      // It runs on the defaults, which manage istio.service; there is no systemd here.
      h.sidecar = (config, fs, log) -> new SidecarSupervisor(config.unit(),
          io.istiovmagent.sidecar.ServiceManager.unavailable("test root"), null, null, log);
      h.start();
      h.awaitMessage(m -> m.startsWith("STATUS=configuration error: ") && m.contains("unknown key 'bundle.sorce'"),
          WAIT);
      assertTrue(h.logs().contains("unknown key 'bundle.sorce'"), h.logs());
      assertTrue(h.running());
      assertEquals(0, h.stop());
    }
  }

  @Test
  void mapsIstiodToTheResolvedGatewayWhenTheHostsFileIsEmpty() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.writeConfig(Files.readString(h.configPath) + "hosts:\n  gatewayHostname: eastwest.mesh.example\n");
      h.respond.set(r -> {
        var files = io.istiovmagent.sample.SampleBundle.generate(io.istiovmagent.sample.SampleBundle.Spec.defaults(),
            h.clock.instant());
        files.put(io.istiovmagent.bundle.BundleFile.HOSTS, new byte[0]);
        return new MockResponse.Builder().body(new okio.Buffer().write(
            io.istiovmagent.bundle.TarGzWriter.write(files))).build();
      });
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      assertTrue(read(h.root.resolve("etc/hosts")).contains(HostsBlock.BEGIN + "\n192.0.2.77 istiod.istio-system.svc\n"),
          read(h.root.resolve("etc/hosts")));
    }
  }

  @Test
  void theTokenNeverReachesLogsStatusOrNotifications() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await("status written", WAIT, () -> h.status().bundle() != null);
      String jwt = Files.readString(h.token()).strip();
      String statusJson = Files.readString(h.root.resolve("run/istio-vm-agent/status.json"));
      for (String part : jwt.split("\\.")) {
        assertFalse(h.logs().contains(part));
        assertFalse(statusJson.contains(part));
        assertTrue(h.messages.stream().noneMatch(m -> m.contains(part)));
      }
      assertNotNull(h.status().bundle().tokenExpiresAt());
      assertNull(h.status().lastError());
    }
  }

  private static AgentStatus status(DaemonHarness h) {
    try {
      return h.status();
    } catch (RuntimeException | AssertionError e) {
      return null;
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.ISO_8859_1);
    } catch (java.io.IOException e) {
      return "";
    }
  }

  private static Instant expiry(String jwt) throws Exception {
    String claims = new String(Base64.getUrlDecoder().decode(jwt.split("\\.")[1]), StandardCharsets.UTF_8);
    return Instant.ofEpochSecond(new com.fasterxml.jackson.databind.ObjectMapper().readTree(claims).get("exp").asLong());
  }
}
