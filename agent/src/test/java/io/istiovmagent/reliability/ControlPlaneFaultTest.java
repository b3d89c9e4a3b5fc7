package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.BundleLimits;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.daemon.DaemonHarness;
import io.istiovmagent.daemon.SidecarSupervisor;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.sidecar.FakeSystemctl;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.sidecar.SystemctlServiceManager;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.testing.Bodies;
import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.TcpFront;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TreeSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The control plane misbehaves in every way it can, one fault at a time, while a real daemon (the in-process
 * {@link DaemonHarness}: a temporary root, real TLS on loopback, a real notify socket and watchdog, a fake
 * systemctl) holds a good bundle, installed and READY. For each fault the installed files stay byte-identical, the
 * sidecar is not touched, the daemon stays up and keeps pinging its watchdog, its status and log name the cause, it
 * retries no faster than its backoff allows, and it recovers by itself once the fault clears.
 *
 * <p>Time: while all is well (and while it recovers) the daemon's clock runs {@link #FAST} times faster than real
 * time, so its 10 s refresh interval (the configuration's floor) comes every half second and it meets a fault at
 * once. From its first attempt against the fault its clock runs at real time: the retries are counted against the
 * backoff as configured, and the loop's own pace (a systemctl call per pass) cannot pass for a backoff. Network
 * timeouts and the watchdog are always real time. The faults run {@link #PARALLEL} at a time, each with its own
 * daemon, servers, clock and root: they share nothing but the CAs.
 *
 * <p>Adding a fault is one line in {@link Fault}. Working on one: {@code -Dfaults=HTTP_401,CONNECT_TIMEOUT} runs
 * only those, {@code -Dfaults.debug=true} prints each daemon's log with its counts.
 */
class ControlPlaneFaultTest {
  static final String ROW = "control-plane faults";
  /** How much faster than real time the daemon's clock runs while there is no fault to count retries against. */
  static final int FAST = 20;
  /** bundle.refreshInterval: 0.5 s real at {@link #FAST}; the daemon meets a fault within that. */
  static final Duration REFRESH = Duration.ofSeconds(10);
  /** bundle.backoffCap: a failure that is not transient waits 2 to 4 s. */
  static final Duration CAP = Duration.ofSeconds(4);
  /** What the 503 asks for: longer than the cap, so honouring it shows. */
  static final Duration RETRY_AFTER = Duration.ofSeconds(6);
  /** bundle.timeout: connect and read timeout, real time (OkHttp's). */
  static final Duration TIMEOUT = Duration.ofSeconds(6);
  /**
   * WatchdogSec= as systemd would set it, real time: the daemon pings every 3 s. Equal to the timeout, as the unit's
   * 30 s is to the default bundle.timeout: a fetch that holds up the loop for its timeout gets the agent killed.
   */
  static final Duration WATCHDOG = Duration.ofSeconds(6);
  /** How long the attempts are counted after the daemon met the fault. */
  static final Duration WINDOW = Duration.ofSeconds(4);
  /** Attempts allowed beyond what the backoff permits: the window's edges. */
  static final int SLACK = 1;
  /** How much earlier than the policy's shortest wait an attempt may be seen: timer granularity. */
  static final Duration TIMER_SLACK = Duration.ofMillis(20);
  static final int PARALLEL = 5;
  static final String PATH = "/v1/bundle/vm-namespace/hello-vm";

  static final HeldCertificate OTHER_CA = TestTls.newCa("somebody else's CA");

  /**
   * How the backoff policy (docs/configuration.md, Backoff) retries a failure: SOON for what passes by itself
   * (unreachable, timed out, 429, 5xx), exponentially with full jitter; SLOW for what a person must fix (a rejected
   * credential, no bundle, TLS, a redirect to http, a refused bundle), between half the cap and the cap. The test's
   * own table, not the product's FailureClass: an oracle must not change with the code it judges.
   */
  enum Retry { SOON, SLOW }

  /** One fault: how the daemon must retry it, the words its status and log must use, and how to cause it. */
  enum Fault {
    HTTP_500(Retry.SOON, "HTTP 500", rig -> rig.answer(() -> status(500))),
    HTTP_503_RETRY_AFTER(Retry.SOON, RETRY_AFTER, "HTTP 503, retry after 6s",
        rig -> rig.answer(() -> status(503).addHeader("Retry-After", RETRY_AFTER.toSeconds()))),
    HTTP_429(Retry.SOON, "HTTP 429", rig -> rig.answer(() -> status(429))),
    HTTP_401(Retry.SLOW, "credential rejected (HTTP 401)", rig -> rig.answer(() -> status(401))),
    HTTP_404(Retry.SLOW, "(HTTP 404)", rig -> rig.answer(() -> status(404))),
    CONNECT_TIMEOUT(Retry.SOON, "timed out", Rig::blackhole),
    READ_STALL_MID_BODY(Retry.SOON, "timed out",
        rig -> rig.answer(() -> rig.good().onResponseBody(SocketEffect.Stall.INSTANCE))),
    RESET_MID_BODY(Retry.SOON, "reset",
        rig -> rig.answer(() -> rig.good().onResponseBody(new SocketEffect.CloseSocket()))),
    TRUNCATED_GZIP(Retry.SLOW, "truncated download",
        rig -> rig.answer(() -> gzip(Arrays.copyOf(rig.served().archive(), rig.served().archive().length / 2)))),
    BODY_OVER_SIZE_LIMIT(Retry.SLOW, "larger than " + BundleLimits.MAX_TOTAL_BYTES + " bytes",
        rig -> rig.answer(() -> status(200).body(Bodies.unknownLength(BundleLimits.MAX_TOTAL_BYTES + 1)))),
    HTML_ERROR_PAGE(Retry.SLOW, "got an HTML page", rig -> rig.answer(() -> status(200)
        .addHeader("Content-Type", "text/html").body("<!DOCTYPE html><html><body>Bad Gateway</body></html>\n"))),
    UNTRUSTED_CA(Retry.SLOW, "certificate is not signed by a trusted CA",
        rig -> rig.tls(TestTls.serverCert(OTHER_CA, "localhost"), OTHER_CA)),
    EXPIRED_CERTIFICATE(Retry.SLOW, "certificate has expired", rig -> rig.tls(TestTls.serverCert(
        DaemonHarness.CA, Instant.now().minus(Duration.ofDays(2)), Instant.now().minus(Duration.ofDays(1)),
        "localhost"), DaemonHarness.CA)),
    HOSTNAME_MISMATCH(Retry.SLOW, "hostname mismatch",
        rig -> rig.tls(TestTls.serverCert(DaemonHarness.CA, "wrong.example"), DaemonHarness.CA)),
    REDIRECT_TO_HTTP(Retry.SLOW, "redirected to http://", Rig::redirectToHttp);

    final Retry retry;
    final Optional<Duration> retryAfter;
    final String cause;
    final Injection inject;

    Fault(Retry retry, String cause, Injection inject) {
      this(retry, null, cause, inject);
    }

    Fault(Retry retry, Duration retryAfter, String cause, Injection inject) {
      this.retry = retry;
      this.retryAfter = Optional.ofNullable(retryAfter);
      this.cause = cause;
      this.inject = inject;
    }

    /**
     * The most attempts the backoff policy lets into {@link #WINDOW} (the daemon's clock at real time), counting the
     * one that opens it. SLOW waits at least half the cap, a Retry-After at least its value, whatever the jitter
     * draws: that bound holds for any random source. SOON's full jitter may draw zero, so its bound replays the
     * daemon's draws as the policy makes them, uniform in [0, min(cap, 1 s * 2^(n-1))] milliseconds from the
     * daemon's random (the harness seeds it with {@link DaemonHarness#SEED}; nothing else draws from it).
     */
    int maxAttempts() {
      long window = WINDOW.toMillis();
      long floor = Math.max(minDelay().toMillis(), 1);
      if (retry == Retry.SLOW || retryAfter.isPresent()) {
        return 1 + (int) (window / floor) + SLACK;
      }
      SplittableRandom daemons = new SplittableRandom(DaemonHarness.SEED);
      long at = 0;
      for (int n = 1; ; n++) {
        long ceiling = Math.min(CAP.toMillis(), Backoff.DEFAULT_BASE.toMillis() << Math.min(n - 1, 20));
        at += daemons.nextLong(0, ceiling + 1);
        if (at > window) {
          return n + SLACK;
        }
      }
    }

    /** The shortest wait the policy allows after a failure: half the cap for SLOW, and never below Retry-After. */
    Duration minDelay() {
      Duration floor = retry == Retry.SLOW ? CAP.dividedBy(2) : Duration.ZERO;
      return retryAfter.filter(r -> r.compareTo(floor) > 0).orElse(floor);
    }
  }

  /** Causes a fault; returns how many attempts of the daemon met it so far. */
  interface Injection {
    IntSupplier apply(Rig rig) throws Exception;
  }

  @TempDir
  static Path tmp;

  private static final Map<Fault, Future<?>> RUNS = new EnumMap<>(Fault.class);
  private static ExecutorService pool;

  @BeforeAll
  static void runEveryFault() {
    pool = Executors.newFixedThreadPool(PARALLEL, r -> {
      Thread t = new Thread(r, "control-plane-fault");
      t.setDaemon(true);
      return t;
    });
    for (Fault f : selected()) {
      RUNS.put(f, pool.submit(() -> {
        exercise(f, Files.createDirectories(tmp.resolve(f.name())));
        return null;
      }));
    }
    pool.shutdown();
  }

  /** Every fault, or those named in -Dfaults=A,B (when working on one). */
  static List<Fault> selected() {
    String only = System.getProperty("faults", "");
    return only.isBlank() ? List.of(Fault.values())
        : Arrays.stream(only.split(",")).map(String::strip).map(Fault::valueOf).toList();
  }

  @AfterAll
  static void waitForEveryFault() throws InterruptedException {
    pool.shutdownNow();
    pool.awaitTermination(30, TimeUnit.SECONDS);
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Fault.class)
  void keepsTheGoodBundleThroughAndRecoversFrom(Fault fault) throws Throwable {
    Assumptions.assumeTrue(RUNS.containsKey(fault), "not selected by -Dfaults");
    try {
      RUNS.get(fault).get(3, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      throw e.getCause();
    }
  }

  /** One fault, start to end: the body of the test, run on the pool. */
  static void exercise(Fault fault, Path dir) throws Exception {
    try (Rig rig = new Rig(dir)) {
      DaemonHarness h = rig.h;
      rig.startHealthy();
      Map<String, String> before = rig.snapshot();
      String revision = h.status().bundle().revision();

      long injected = System.nanoTime();
      IntSupplier attempts = fault.inject.apply(rig);
      rig.await("the daemon to meet " + fault, Duration.ofSeconds(15), () -> attempts.getAsInt() >= 1);
      rig.clock.realTime(); // done already at the first attempt, where the front or the server can see it
      // The measurement: how many attempts the daemon makes in WINDOW after it met the fault.
      long windowEnd = System.nanoTime() + WINDOW.toNanos();
      while (System.nanoTime() < windowEnd && h.running()) {
        Thread.sleep(20);
      }
      int counted = attempts.getAsInt();

      // The cause, in status.json and the log. A stalled fetch fails only when its read times out.
      rig.await("the cause (" + fault.cause + ") in the status", Duration.ofSeconds(15), () -> {
        AgentStatus now = rig.statusOrNull();
        return now != null && now.lastError() != null && now.lastError().message().contains(fault.cause);
      });
      AgentStatus s = h.status();
      String context = fault + ": " + s + "\n" + h.logs();
      assertTrue(h.logs().contains(fault.cause), "the log names the cause (" + fault.cause + ")\n" + context);
      assertEquals(AgentStatus.Phase.RUNNING, s.phase(), context);
      assertEquals(AgentStatus.Health.DEGRADED, s.health(), context);
      assertEquals(revision, s.bundle().revision(), context);
      assertTrue(s.reasons().contains(s.lastError().message()), context);
      rig.awaitNotify("STATUS=DEGRADED naming " + fault.cause,
          m -> m.startsWith("STATUS=DEGRADED") && m.contains(fault.cause), Duration.ofSeconds(10));

      // Not a hot loop: no more attempts than the backoff allows, and its floor kept, Retry-After included.
      int max = fault.maxAttempts();
      assertTrue(counted <= max, fault + ": " + counted + " attempts in " + WINDOW + ", the backoff allows at most "
          + max + "\n" + h.logs());
      Duration waits = Duration.between(s.lastError().at(), s.nextRefreshAt());
      assertTrue(waits.compareTo(fault.minDelay()) >= 0, fault + ": the next attempt " + waits + " after the "
          + "failure, the policy waits at least " + fault.minDelay() + "\n" + context);
      List<Long> times = List.copyOf(rig.attemptTimes);
      for (int i = 1; i < times.size(); i++) {
        Duration gap = Duration.ofNanos(times.get(i) - times.get(i - 1));
        assertTrue(gap.compareTo(fault.minDelay().minus(TIMER_SLACK)) >= 0, fault + ": attempt " + (i + 1)
            + " came " + gap.toMillis() + " ms after attempt " + i + ", the policy waits at least "
            + fault.minDelay().toMillis() + " ms (attempts at " + times.stream().map(t -> (t - times.get(0)) / 1_000_000
            + " ms").toList() + ")\n" + h.logs());
      }

      // Nothing installed changed and the sidecar was left alone.
      Set<String> changed = changed(before, rig.snapshot());
      int actions = rig.unitActions().size();
      ProofSummary.add(ROW, "faults", 1);
      ProofSummary.add(ROW, "files changed", changed.size());
      ProofSummary.add(ROW, "sidecar restarts", actions);
      assertEquals(Set.of(), changed, fault + ": files changed\n" + context);
      assertEquals(List.of(), rig.unitActions(), fault + ": istio.service was acted on\n" + context);
      rig.assertNoRequestReachedAnotherServer(fault);
      assertTrue(h.running(), "the daemon exited\n" + context);

      // The fault clears; a new bundle (a new token) is served. No hint, no reload: the daemon finds it.
      Map<BundleFile, byte[]> next = rig.clear();
      String newToken = new String(next.get(BundleFile.TOKEN), StandardCharsets.US_ASCII);
      rig.await("the new token installed after " + fault, Duration.ofSeconds(30),
          () -> newToken.equals(read(h.token())));
      rig.await("a healthy status after " + fault, Duration.ofSeconds(15), () -> {
        AgentStatus now = rig.statusOrNull();
        return now != null && now.health() == AgentStatus.Health.HEALTHY && now.lastError() == null;
      });
      long recovered = System.nanoTime();
      assertTrue(h.running(), h.logs());
      Set<String> installed = changed(before, rig.snapshot());
      assertEquals(new TreeSet<>(Set.of(rig.key(h.token()), "/var/lib/istio-vm-agent/last-known-good.json")),
          installed, fault + ": a token-only bundle changes the token and the last-known-good copy\n" + h.logs());
      assertEquals(List.of(), rig.unitActions(), fault + ": a token-only change restarts nothing\n" + h.logs());

      // Up and READY throughout, fault and recovery: no new READY=1 (nor STOPPING=1, RELOADING=1), and WATCHDOG=1
      // never further apart than WatchdogSec=, or systemd would have killed the agent.
      List<Timed> during = rig.notifications(injected, recovered);
      assertTrue(during.stream().map(Timed::message).noneMatch(m -> m.startsWith("READY=1")
          || m.startsWith("STOPPING=1") || m.startsWith("RELOADING=1")), during + "\n" + h.logs());
      Duration gap = rig.longestWatchdogGap(injected, recovered);
      assertTrue(gap.compareTo(WATCHDOG) < 0, fault + ": no WATCHDOG=1 for " + gap.toMillis() + " ms (WatchdogSec "
          + WATCHDOG.toMillis() + " ms): systemd would have killed the agent\n" + h.logs());
      ProofSummary.add(ROW, "recovered", 1);
      if (Boolean.getBoolean("faults.debug")) {
        System.out.println("=== " + fault + ": " + counted + " attempts (at most " + max + "), longest watchdog gap "
            + gap.toMillis() + " ms\n" + h.logs());
      }
    }
  }

  /** A notify message and when it arrived ({@link System#nanoTime()}). */
  record Timed(long nanos, String message) {}

  /** A clock whose pace the test sets: {@link #FAST} or real time, never going back. */
  static final class PacedClock extends Clock {
    private Instant base = Instant.now();
    private long baseNanos = System.nanoTime();
    private int pace = FAST;

    @Override
    public synchronized Instant instant() {
      return base.plusNanos((System.nanoTime() - baseNanos) * pace);
    }

    private synchronized void pace(int p) {
      base = instant();
      baseNanos = System.nanoTime();
      pace = p;
    }

    void realTime() {
      pace(1);
    }

    void fast() {
      pace(FAST);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  static Set<String> changed(Map<String, String> before, Map<String, String> after) {
    Set<String> keys = new TreeSet<>(before.keySet());
    keys.addAll(after.keySet());
    keys.removeIf(k -> java.util.Objects.equals(before.get(k), after.get(k)));
    return keys;
  }

  /** The bundle the server hands out while all is well: its files, its archive and its ETag. */
  record Served(Map<BundleFile, byte[]> files, byte[] archive, String etag) {
    static Served of(Map<BundleFile, byte[]> files) {
      byte[] archive = TarGzWriter.write(files);
      return new Served(files, archive, "\"" + HexFormat.of().formatHex(Arrays.copyOf(sha256(archive), 16)) + "\"");
    }
  }

  /** One daemon with everything around it: the control plane behind a TCP front, systemd, Envoy. */
  static final class Rig implements AutoCloseable {
    final DaemonHarness h;
    final PacedClock clock = new PacedClock();
    final TcpFront front;
    final MockWebServer envoy;
    final FakeSystemctl systemctl;
    final List<MockWebServer> others = new ArrayList<>();
    final AtomicReference<Served> served = new AtomicReference<>();
    final AtomicReference<Supplier<MockResponse.Builder>> fault = new AtomicReference<>();
    final AtomicInteger faultyRequests = new AtomicInteger();
    /** When each attempt against the fault reached the server or the front ({@link System#nanoTime()}). */
    final List<Long> attemptTimes = java.util.Collections.synchronizedList(new ArrayList<>());
    /** Every notify message since the start, in order of arrival. */
    final List<Timed> notifications = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Thread listener;
    private volatile boolean listening = true;

    Rig(Path dir) throws IOException {
      h = new DaemonHarness(dir);
      h.clock = clock;
      h.watchdog = Optional.of(new WatchdogSettings(WATCHDOG));
      served.set(Served.of(SampleBundle.generate(SampleBundle.Spec.defaults(), h.clock.instant())));
      h.respond.set(this::answer);
      front = TcpFront.start(h.server.getPort());
      envoy = TestTls.startPlain();
      envoy.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest r) {
          return new MockResponse.Builder().code(200).build();
        }
      });
      Files.createDirectories(h.root.resolve("run/systemd/system"));
      systemctl = FakeSystemctl.install(Files.createDirectories(dir.resolve("fake-systemctl")));
      systemctl.showPrints("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4711\nNRestarts=0\n"
          + "UnitFileState=enabled\n");
      h.sidecar = supervisor(systemctl);
      listener = new Thread(this::listen, "notify-listener-" + dir.getFileName());
      listener.setDaemon(true);
      Path joinToken = dir.resolve("join-token");
      Files.createFile(joinToken, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(joinToken, "vm-join-" + HexFormat.of().formatHex(sha256(dir.toString().getBytes())) + "\n");
      h.writeConfig("bundle:\n"
          + "  source: https://localhost:" + front.port() + PATH + "\n"
          + "  caFile: " + TestTls.writeCaPem(dir, DaemonHarness.CA) + "\n"
          + "  tokenFile: " + joinToken + "\n"
          + "  refreshInterval: " + REFRESH.toSeconds() + "s\n"
          + "  timeout: " + TIMEOUT.toSeconds() + "s\n"
          + "  backoffCap: " + CAP.toSeconds() + "s\n"
          + "sidecar:\n"
          + "  readinessUrl: http://127.0.0.1:" + envoy.getPort() + "/healthz/ready\n");
    }

    private static SidecarSupervisor.Factory supervisor(FakeSystemctl systemctl) {
      return (config, fs, log) -> new SidecarSupervisor(config.unit(),
          SystemctlServiceManager.detect(fs, systemctl.binary, Duration.ofSeconds(5)),
          new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs), log);
    }

    /** Started, READY, HEALTHY, with a conditional refresh (304) behind it. */
    void startHealthy() throws InterruptedException {
      h.start();
      listener.start();
      awaitNotify("READY=1", "READY=1"::equals, Duration.ofSeconds(15));
      int requests = h.bundleRequests.get();
      h.await("a healthy daemon refreshing", Duration.ofSeconds(15), () -> {
        AgentStatus s = statusOrNull();
        return s != null && s.health() == AgentStatus.Health.HEALTHY && h.bundleRequests.get() >= requests + 1;
      });
    }

    /** Takes every notify message as it arrives (looking every 5 ms), so that each has its time. */
    private void listen() {
      while (listening) {
        Optional<String> m = h.notify.poll();
        if (m.isPresent()) {
          notifications.add(new Timed(System.nanoTime(), m.get()));
        } else {
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
    }

    /**
     * As {@link DaemonHarness#await}, failing at once if the daemon is no longer running or believed a server it
     * must not.
     */
    void await(String what, Duration timeout, java.util.function.BooleanSupplier condition)
        throws InterruptedException {
      h.await(what, timeout, () -> {
        if (!h.running()) {
          throw new AssertionError("the daemon exited while waiting for " + what + "\n" + h.logs());
        }
        assertNoRequestReachedAnotherServer(what);
        return condition.getAsBoolean();
      });
    }

    void awaitNotify(String what, java.util.function.Predicate<String> match, Duration timeout)
        throws InterruptedException {
      await(what + " sent to systemd (got " + notifications + ")", timeout,
          () -> List.copyOf(notifications).stream().anyMatch(t -> match.test(t.message())));
    }

    /** The notify messages that arrived between two instants ({@link System#nanoTime()}). */
    List<Timed> notifications(long from, long to) {
      return List.copyOf(notifications).stream().filter(t -> t.nanos() >= from && t.nanos() <= to).toList();
    }

    /** The longest time without WATCHDOG=1 between two instants, counted from the last ping before the first. */
    Duration longestWatchdogGap(long from, long to) {
      long last = from;
      long longest = 0;
      for (Timed t : List.copyOf(notifications)) {
        if (!t.message().equals("WATCHDOG=1") || t.nanos() > to) {
          continue;
        }
        if (t.nanos() <= from) {
          last = t.nanos();
        } else {
          longest = Math.max(longest, t.nanos() - last);
          last = t.nanos();
        }
      }
      return Duration.ofNanos(Math.max(longest, to - last));
    }

    AgentStatus statusOrNull() {
      try {
        return h.status();
      } catch (RuntimeException | AssertionError e) {
        return null;
      }
    }

    Served served() {
      return served.get();
    }

    /** What the control plane answers: the fault while there is one, else the bundle (304 when unchanged). */
    private MockResponse answer(RecordedRequest r) {
      Supplier<MockResponse.Builder> f = fault.get();
      if (f != null) {
        attemptTimes.add(System.nanoTime());
        faultyRequests.incrementAndGet();
        clock.realTime(); // before the daemon sees the answer: its backoff runs at real time from the first failure
        return f.get().build();
      }
      Served s = served.get();
      if (s.etag().equals(r.getHeaders().get("If-None-Match"))) {
        return status(304).addHeader("ETag", s.etag()).build();
      }
      return good().build();
    }

    /** The bundle, as the control plane serves it. */
    MockResponse.Builder good() {
      Served s = served.get();
      return gzip(s.archive()).addHeader("ETag", s.etag());
    }

    /** The control plane answers every request with {@code response}. */
    IntSupplier answer(Supplier<MockResponse.Builder> response) {
      faultyRequests.set(0);
      fault.set(response);
      return faultyRequests::get;
    }

    /** The control plane's address now leads to a TLS server presenting {@code leaf}. */
    IntSupplier tls(HeldCertificate leaf, HeldCertificate signer) throws IOException {
      MockWebServer wrong = impostor(TestTls.startHttps(leaf, signer));
      int port = wrong.getPort();
      front.onConnection(to -> {
        if (to == port) {
          attemptTimes.add(System.nanoTime());
          clock.realTime();
        }
      });
      front.forwardTo(port);
      return () -> front.connectionsTo(port);
    }

    /** The control plane's address stops answering connection attempts. Counted in the log: nothing else sees them. */
    IntSupplier blackhole() throws IOException, InterruptedException {
      front.blackhole();
      int already = count(h.logs(), "cannot fetch the bundle");
      return () -> count(h.logs(), "cannot fetch the bundle") - already;
    }

    /** The control plane redirects to a plain-http server that would serve the bundle. */
    IntSupplier redirectToHttp() throws IOException {
      MockWebServer plain = impostor(TestTls.startPlain());
      return answer(() -> status(302).addHeader("Location", "http://localhost:" + plain.getPort() + PATH));
    }

    /**
     * A server the agent must not believe (the wrong certificate, plain http): it serves a valid bundle of its own,
     * so an agent that did believe it would install it.
     */
    MockWebServer impostor(MockWebServer server) {
      others.add(server);
      byte[] archive = TarGzWriter.write(SampleBundle.generate(SampleBundle.Spec.defaults(), h.clock.instant()));
      server.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest r) {
          return gzip(archive).build();
        }
      });
      return server;
    }

    /** No request (no credential) reached a server with the wrong certificate or over plain http. */
    void assertNoRequestReachedAnotherServer(Object when) {
      for (MockWebServer other : List.copyOf(others)) {
        assertEquals(0, other.getRequestCount(), when + ": a request (with the join token) reached " + other
            + ", which the agent must not trust\n" + h.logs());
      }
    }

    /** Ends the fault and serves a new bundle: the same one with a new token. Returns its files. */
    Map<BundleFile, byte[]> clear() {
      Map<BundleFile, byte[]> files = new EnumMap<>(served.get().files());
      files.put(BundleFile.TOKEN, SampleBundle.generate(SampleBundle.Spec.defaults().withTokenLifetime(
          Duration.ofHours(2)), h.clock.instant()).get(BundleFile.TOKEN));
      served.set(Served.of(files));
      fault.set(null);
      front.forwardTo(h.server.getPort());
      clock.fast();
      return files;
    }

    /**
     * The root, without what the agent rewrites on every change of its state: the status file (and its temporary
     * siblings while AtomicFile writes it). The last-known-good copy, the installed files, /etc/hosts and the
     * configuration are all in.
     */
    Map<String, String> snapshot() throws IOException {
      return TreeSnapshot.of(h.root, p -> p.equals("/run/istio-vm-agent/status.json")
          || p.startsWith("/run/istio-vm-agent/.status.json.tmp-"));
    }

    String key(Path p) {
      return "/" + h.root.relativize(p);
    }

    /** Every systemctl call that acts on the unit (anything but looking at it). */
    List<String> unitActions() throws IOException {
      return systemctl.calls().stream().filter(c -> !c.startsWith("[show]")).toList();
    }

    @Override
    public void close() throws Exception {
      listening = false;
      listener.join(5_000);
      try {
        h.close();
      } finally {
        front.close();
        envoy.close();
        others.forEach(MockWebServer::close);
      }
    }
  }

  static MockResponse.Builder status(int code) {
    return new MockResponse.Builder().code(code);
  }

  static MockResponse.Builder gzip(byte[] bytes) {
    return status(200).addHeader("Content-Type", "application/gzip").body(new Buffer().write(bytes));
  }

  static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      return "";
    }
  }

  static byte[] sha256(byte[] b) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(b);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
