package io.istiovmagent.bench;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.daemon.FleetSchedule;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.source.HttpsSource;
import io.istiovmagent.verify.BundleVerifier;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.HttpUrl;

/**
 * One JVM of the fleet: agents {@code [from, to)} of {@code agents}, started by {@link FleetBench} at SCHED_IDLE.
 * Several JVMs share the fleet because OkHttp keeps one task runner per JVM, whose lock every client's connection
 * pool goes through: nothing for the one or two clients of a real agent, a convoy with 20,000. Each agent joins at
 * the same moment whatever JVM it is in, with randomness seeded by its number: the fleet is the same for any number
 * of JVMs.
 *
 * <p>Talks to the coordinator through files in the work directory: it writes {@code ready-N} once warmed up, reads
 * {@code t0} (second 0, epoch ms), {@code recovered-at} (epoch ms, once the endpoint is back) and {@code stop}, and
 * writes {@code worker-N.stats} at the end, after {@code flips-N} (P7's sidecar flips, {@link SidecarFlips}).
 */
public final class FleetWorker {
  private FleetWorker() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    Path work = Path.of(a.get("work"));
    int index = Integer.parseInt(a.get("index"));
    int from = Integer.parseInt(a.get("from"));
    int to = Integer.parseInt(a.get("to"));
    int agents = Integer.parseInt(a.get("agents"));
    int ramp = Integer.parseInt(a.get("ramp"));
    int seconds = Integer.parseInt(a.get("seconds"));
    int port = Integer.parseInt(a.get("port"));
    long seed = Long.parseLong(a.get("seed"));
    String ns = a.getOrDefault("namespace", FleetBench.NS);
    String group = a.getOrDefault("group", FleetBench.GROUP);
    // With --state DIR the agents enrol with the join token and keep a credential each (P7); else they present the
    // join token on every request (P5).
    Path joinToken = work.resolve("join-token");
    FleetAgent.Credential credential = a.containsKey("state")
        ? FleetAgent.Credential.enrolling(joinToken, Path.of(a.get("state")))
        : FleetAgent.Credential.joinToken(BearerToken.readFile(joinToken));

    Clock clock = Clock.systemUTC();
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(2, r -> {
      Thread t = new Thread(r, "fleet-timer");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
    AtomicInteger threads = new AtomicInteger();
    ThreadPoolExecutor blocking = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
        new SynchronousQueue<>(), r -> {
          Thread t = new Thread(r, "fleet-fetch-" + threads.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    // A reporter thread interrupted inside OkHttp's connect dies of an InterruptedException that OkHttp (Kotlin)
    // throws unchecked. Nothing here interrupts reporters; counted in case.
    AtomicInteger uncaught = new AtomicInteger();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
      if (uncaught.incrementAndGet() <= 3) {
        System.err.println("worker " + index + ": uncaught in " + t.getName() + ": " + e);
      }
    });
    X509TrustManager trust = onlyTrusting(work.resolve("ca.pem"));
    FleetAgent.Verifier verifier = new FleetAgent.Verifier(new BundleVerifier(clock, Set.of()));
    warmUp(port, ns, group, trust, BearerToken.readFile(joinToken), clock, verifier);
    // Second 0 (t0) is set by the coordinator once every fleet JVM is up: a JVM can take many seconds to start on
    // a loaded machine, and agents whose join time had passed would all join at once.
    Files.writeString(work.resolve("ready-" + index), "");
    Path t0File = work.resolve("t0");
    while (!Files.exists(t0File)) {
      Thread.sleep(20);
    }
    long t0 = Long.parseLong(Files.readString(t0File).strip());
    long startNanos = System.nanoTime() - (System.currentTimeMillis() - t0) * 1_000_000L;
    FleetStats stats = new FleetStats(startNanos, seconds);
    FleetAgent.Shared shared = new FleetAgent.Shared(
        HttpUrl.get("https://127.0.0.1:" + port + "/v1/bundle/" + ns + "/" + group),
        HttpUrl.get("https://127.0.0.1:" + port + "/v1/health"), trust, credential, AgentConfig.DEFAULT_TIMEOUT,
        AgentConfig.DEFAULT_REPORT_INTERVAL,
        Backoff.DEFAULT_CAP, FleetSchedule.Settings.withDefaults(), verifier, clock, timer, blocking,
        new CallRecorder(stats), stats, "istio-vm-agent/bench");
    List<FleetAgent> fleet = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      FleetAgent agent = new FleetAgent(i, shared, new SplittableRandom(seed * 1_000_003L + i));
      fleet.add(agent);
      // Evenly over the ramp, by the agent's number in the whole fleet: heartbeats spread over the interval.
      long at = t0 + (long) i * ramp * 1000 / agents - System.currentTimeMillis();
      timer.schedule(() -> blocking.execute(agent::join), Math.max(0, at), TimeUnit.MILLISECONDS);
    }
    // P7: --flips N --flips-from S --flips-to S (the steady window); none otherwise.
    SidecarFlips flips = SidecarFlips.of(from, to, agents, Integer.parseInt(a.getOrDefault("flips", "0")),
        Integer.parseInt(a.getOrDefault("flips-from", "0")), Integer.parseInt(a.getOrDefault("flips-to", "0")));
    flips.schedule(fleet, from, ns, group, timer, t0);

    Path recoveredAtFile = work.resolve("recovered-at");
    Path stop = work.resolve("stop");
    Instant recoveredAt = null;
    while (!Files.exists(stop) && System.currentTimeMillis() < t0 + seconds * 1000L + 60_000) {
      if (recoveredAt == null && Files.exists(recoveredAtFile)) {
        recoveredAt = Instant.ofEpochMilli(Long.parseLong(Files.readString(recoveredAtFile).strip()));
      }
      if (recoveredAt != null) {
        int back = 0;
        for (FleetAgent agent : fleet) {
          back += agent.deliveredSince(recoveredAt) ? 1 : 0;
        }
        stats.recovered(stats.secondOf(System.nanoTime()), back);
      }
      Thread.sleep(1000 - System.currentTimeMillis() % 1000); // once a second, at the turn of the second
    }
    flips.writeTo(work.resolve("flips-" + index));
    Path tmp = work.resolve("worker-" + index + ".tmp");
    stats.writeTo(tmp);
    Files.move(tmp, work.resolve("worker-" + index + ".stats"), StandardCopyOption.ATOMIC_MOVE);
    if (uncaught.get() > 0) {
      System.err.println("worker " + index + ": " + uncaught.get() + " uncaught exceptions");
    }
    // The agents' threads are daemons and end with the JVM: closing thousands of reporters would only wake them all.
    System.exit(0);
  }

  /**
   * Before it says ready: a few hundred fetches of the kind the agents make (TLS, HTTP, the archive, verification),
   * from a few threads, so that the JIT has compiled them before the ramp; a cold JVM needs several times the CPU
   * per handshake, and the ramp is when the CPU is shortest. It warms the endpoint too, as a running one would be.
   * In the Kubernetes mode (P7) a join token only enrols: the fetches are refused (401) after the handshake, which
   * still warms the TLS code on both sides.
   */
  private static void warmUp(int port, String ns, String group, X509TrustManager trust, BearerToken token,
      Clock clock, FleetAgent.Verifier verifier) throws InterruptedException {
    HttpUrl url = HttpUrl.get("https://127.0.0.1:" + port + "/v1/bundle/" + ns + "/" + group);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      Thread th = new Thread(() -> {
        for (int i = 0; i < 100; i++) {
          io.istiovmagent.source.HttpsSource s = new io.istiovmagent.source.HttpsSource(url, trust,
              java.util.Optional.of(token), Duration.ofSeconds(30), "istio-vm-agent/bench-warm-up", clock);
          try {
            io.istiovmagent.source.FetchResult r = s.fetch(java.util.Optional.empty());
            if (r instanceof io.istiovmagent.source.FetchResult.Fetched f) {
              new BundleVerifier(clock, Set.of()).verify(f.bundle());
              verifier.verify(f.bundle());
            }
          } catch (Exception e) {
            // a warm-up call that fails warms something else; the run will show real failures
          }
        }
      }, "fleet-warm-up-" + t);
      th.start();
      threads.add(th);
    }
    for (Thread th : threads) {
      th.join();
    }
  }

  /**
   * Trust in the bench's CA alone. The agent's own {@code TlsTrust} adds the system's ~150 CAs, and OkHttp indexes
   * every trusted CA per client it builds (about 40 KB): 20,000 clients made that 0.8 GB of heap, and the GC pauses
   * stalled handshakes the endpoint was waiting on. The chain checked is the same either way.
   */
  static X509TrustManager onlyTrusting(Path caPem) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(caPem)) {
      ks.setCertificateEntry("bench-ca",
          (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        return x;
      }
    }
    throw new IllegalStateException("no X509TrustManager");
  }
}
