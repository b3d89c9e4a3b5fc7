package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.UnixDatagramReceiver;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;

/**
 * The real daemon loop against real parts: a temporary root, an HTTPS bundle server on loopback that mints a fresh
 * token per request, a real notify socket, and a config file the test can rewrite. Public for the reliability
 * suites (io.istiovmagent.reliability), which drive the same daemon.
 */
public final class DaemonHarness implements AutoCloseable {
  public static final HeldCertificate CA = TestTls.newCa("daemon test CA");
  /** The seed of the daemon's jitter: a test can replay the backoff the daemon draws. */
  public static final long SEED = 7;

  public final Path dir;
  public final Path root;
  public final Path configPath;
  public final MockWebServer server;
  /** systemd's notify socket; a test may close it and bind a new one at {@link #notifySocket()}. */
  public volatile UnixDatagramReceiver notify;
  public final AtomicInteger bundleRequests = new AtomicInteger();
  /** What the server answers; by default a fresh valid bundle issued at the daemon's clock. */
  public final AtomicReference<Function<RecordedRequest, MockResponse>> respond = new AtomicReference<>();
  public final List<String> messages = new ArrayList<>();
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  public Clock clock = Clock.systemUTC();
  public Duration tokenLifetime = Duration.ofHours(1);
  public SidecarSupervisor.Factory sidecar = (config, fs, log) -> {
    throw new AssertionError("sidecar.manage is false in the harness's default config");
  };
  public Optional<WatchdogSettings> watchdog = Optional.empty();
  /** Resolves hosts.gatewayHostname; by default every name is 192.0.2.77 (TEST-NET-1). */
  public AgentDaemon.Resolver resolver = host -> List.of(InetAddress.getByName("192.0.2.77"));
  /** Wraps the daemon's notifier, e.g. to count what it sends. */
  public java.util.function.UnaryOperator<Notifier> notifier = n -> n;
  /** How the daemon's loop waits between passes (a test may wedge it). */
  Ticker ticker = Ticker.QUEUE;
  public AgentDaemon daemon;
  private Thread thread;
  /** Started with {@link #startDriven()}: the test runs the passes, and {@link #close()} the stop. */
  private boolean driven;
  private volatile Integer exitCode;

  public DaemonHarness(Path dir) throws IOException {
    this.dir = dir;
    this.root = TestBundles.newRoot(dir.resolve("root"), true);
    this.configPath = root.resolve("etc/istio-vm-agent/config.yaml");
    this.server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA);
    respond.set(r -> bundleResponse(SampleBundle.Spec.defaults().withTokenLifetime(tokenLifetime)));
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        bundleRequests.incrementAndGet();
        return respond.get().apply(request);
      }
    });
    this.notify = UnixDatagramReceiver.atPath(dir.resolve("notify.sock"));
    writeConfig("bundle:\n  source: " + url() + "\n  caFile: " + TestTls.writeCaPem(dir, CA)
        + "\nsidecar:\n  manage: false\n");
  }

  public Path notifySocket() {
    return dir.resolve("notify.sock");
  }

  public String url() {
    return "https://localhost:" + server.getPort() + "/v1/bundle/vm-namespace/hello-vm";
  }

  public MockResponse bundleResponse(SampleBundle.Spec spec) {
    Map<BundleFile, byte[]> files = SampleBundle.generate(spec, clock.instant());
    return new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(files))).build();
  }

  public void sourceDown() {
    respond.set(r -> new MockResponse.Builder().code(503).addHeader("Retry-After", "1").build());
  }

  public void writeConfig(String yaml) throws IOException {
    Files.createDirectories(configPath.getParent());
    Path tmp = configPath.resolveSibling("config.yaml.tmp");
    Files.writeString(tmp, yaml);
    Files.move(tmp, configPath, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /** Runs the daemon on a thread of its own, its loop waiting as in production (or on {@link #ticker}). */
  public void start() {
    build();
    thread = new Thread(() -> exitCode = daemon.run(), "agent-daemon-under-test");
    thread.start();
  }

  /**
   * Starts the daemon on this thread and runs no loop: the test steps it with {@code daemon.runOnce(now)}, usually
   * with a {@link ManualClock}, and sees what one pass does with nothing left to timing.
   */
  public void startDriven() {
    build();
    driven = true;
    daemon.start();
  }

  private void build() {
    messages.clear();
    daemon = new AgentDaemon(new AgentDaemon.Options(new RootFs(root), configPath, clock,
        notifier.apply(Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", dir.resolve("notify.sock").toString()))),
        watchdog, sidecar,
        resolver, new SplittableRandom(SEED),
        new Log(new PrintStream(logs, true, StandardCharsets.UTF_8), true), "istio-vm-agent/test", "test",
        System.nanoTime()), ticker);
    exitCode = null;
  }

  /** The harness's clock as one the test moves by hand, from now. */
  public ManualClock manualClock() {
    ManualClock c = new ManualClock(Instant.now());
    clock = c;
    return c;
  }

  /** A clock that stands still until {@link #advance}. */
  public static final class ManualClock extends UtcClock {
    private volatile Instant now;

    ManualClock(Instant start) {
      this.now = start;
    }

    public void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  public int stop() throws InterruptedException {
    daemon.requestStop();
    thread.join(10_000);
    if (thread.isAlive()) {
      throw new AssertionError("the daemon did not stop within 10 s\n" + logs());
    }
    return exitCode;
  }

  /** True while the daemon's loop runs: it has not returned (no exit code) since {@link #start()}. */
  public boolean running() {
    return thread != null && thread.isAlive() && exitCode == null;
  }

  /** Waits for a notify message matching the predicate; every message received is kept in {@link #messages}. */
  public String awaitMessage(Predicate<String> match, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (String m : messages) {
      if (match.test(m)) {
        messages.remove(m);
        return m;
      }
    }
    while (System.nanoTime() < deadline) {
      Optional<String> m = receiveOne();
      if (m.isPresent()) {
        if (match.test(m.get())) {
          return m.get();
        }
        messages.add(m.get());
      }
    }
    throw new AssertionError("no matching notify message within " + timeout + "; got " + messages + "\n" + logs());
  }

  private Optional<String> receiveOne() {
    try {
      return Optional.of(notify.receive());
    } catch (AssertionError nothingWithinTwoSeconds) {
      return Optional.empty();
    }
  }

  /** Waits for a condition on files or status, checking every 20 ms (a wait for an event, not a sleep for luck). */
  public void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "\n" + logs());
      }
      Thread.sleep(20);
    }
  }

  public AgentStatus status() {
    try {
      return new StatusFile(root.resolve("run/istio-vm-agent")).read().orElseThrow();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  public Path token() {
    return root.resolve("var/run/secrets/tokens/istio-token");
  }

  public String logs() {
    return logs.toString(StandardCharsets.UTF_8);
  }

  /** A test clock: UTC, whatever zone is asked for; its subclass says what time it is. */
  private abstract static class UtcClock extends Clock {
    @Override
    public java.time.ZoneId getZone() {
      return java.time.ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  /** A clock that runs `factor` times faster than real time, from now. */
  public static Clock fast(int factor) {
    Instant start = Instant.now();
    long startNanos = System.nanoTime();
    return new UtcClock() {
      @Override
      public Instant instant() {
        return start.plusNanos((System.nanoTime() - startNanos) * factor);
      }
    };
  }

  @Override
  public void close() throws Exception {
    if (thread != null && thread.isAlive()) {
      stop();
    }
    if (driven) {
      daemon.requestStop();
      daemon.runOnce(clock.instant());
    }
    server.close();
    notify.close();
  }
}
