package io.istiovmagent.bench;

import static io.istiovmagent.bench.FleetReport.f1;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * P7's service: the Kubernetes mode as a cluster runs it. The API server is fabric8's mock in a JVM of its own
 * ({@link MockApi}, every request counted); {@code replicas} replicas of `istio-vm-onboarding serve --kubernetes`
 * (each with its name for the leader election, the service's namespace, the run's certificate, {@code --debug})
 * stand for the Deployment's pods; a round-robin TCP relay ({@link Relay}) stands for its Service, so that the
 * agents' connections spread over the replicas. The agents enrol with one join token without a use limit, as a
 * fleet's is made (docs/kubernetes.md); {@code BENCH_P7_TOKEN_USES=N} gives it a limit of N uses instead.
 * The outage stops every replica; the API server and the relay stay.
 */
final class KubernetesService implements FleetService {
  static final String NAMESPACE = "bar";
  static final String GROUP = "foo";
  /** The service's own namespace: its leader Lease and the replicas' last-seen ConfigMaps. */
  static final String SERVICE_NAMESPACE = "istio-vm-onboarding";

  private final FleetOptions o;
  private final Path work;
  private final List<EndpointProcess> replicas = new ArrayList<>();
  private Process mock;
  private Process relay;
  private ApiLog api;
  private final List<ProcSeries> replicaSeries = new ArrayList<>();
  private ProcSeries mockSeries;
  private ProcSeries relaySeries;
  private long mockHwmSteady;
  private long t0Millis;

  KubernetesService(FleetOptions o) {
    this.o = o;
    this.work = o.work();
  }

  @Override
  public int start() throws Exception {
    BenchFiles.certificates(work);
    Files.createDirectories(work.resolve("state"));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java));
    cmd.addAll(words(o.mockJavaOpts()));
    cmd.addAll(List.of("-Dfile.encoding=UTF-8", "-cp", o.mockClasspath(), MockApi.class.getName(), work.toString(),
        Optional.ofNullable(System.getenv("BENCH_P7_TOKEN_USES")).orElse("0")));
    mock = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(work.resolve("mock-api.log").toFile())
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!Files.exists(work.resolve("api-ready"))) {
      if (!mock.isAlive() || System.nanoTime() > deadline) {
        throw new Failed("the mock API server did not start; its log:\n"
            + Files.readString(work.resolve("mock-api.log")));
      }
      Thread.sleep(100);
    }
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < o.replicas(); i++) {
      String name = "replica-" + (char) ('a' + i);
      int port = BenchFiles.freePort();
      ports.add(port);
      replicas.add(new EndpointProcess(name, work, o.onboarding(), o.endpointJavaOpts(), List.of("--kubernetes",
          "--kubeconfig", work.resolve("kubeconfig").toString(), "--revision", "rev-1", "--replica", name,
          "--namespace", SERVICE_NAMESPACE, "--listen", "127.0.0.1:" + port, "--cert",
          work.resolve("endpoint.pem").toString(), "--key", work.resolve("endpoint-key.pem").toString()), port));
    }
    startReplicas("start");
    int port = BenchFiles.freePort();
    List<String> relayCmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-Xmx128m", "-Xss256k", "-cp",
        System.getProperty("java.class.path"), Relay.class.getName(), Integer.toString(port)));
    ports.forEach(p -> relayCmd.add(Integer.toString(p)));
    relay = new ProcessBuilder(relayCmd).redirectErrorStream(true).redirectOutput(work.resolve("relay.log").toFile())
        .start();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!accepts(port)) {
      if (!relay.isAlive() || System.nanoTime() > deadline) {
        throw new Failed("the relay did not start; its log:\n" + Files.readString(work.resolve("relay.log")));
      }
      Thread.sleep(50);
    }
    return port;
  }

  private void startReplicas(String what) throws Failed, IOException, InterruptedException {
    for (EndpointProcess r : replicas) {
      r.start();
    }
    for (EndpointProcess r : replicas) {
      if (!r.awaitReady(Duration.ofSeconds(90))) {
        throw new Failed(r.name() + " did not " + what + "; its log:\n" + Files.readString(r.log()));
      }
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static List<String> words(String s) {
    return s.isBlank() ? List.of() : List.of(s.strip().split("\\s+"));
  }

  @Override
  public List<String> fleetArgs() {
    int steadyFrom = o.ramp() + o.settle();
    return List.of("--namespace", NAMESPACE, "--group", GROUP, "--state", work.resolve("state").toString(),
        "--flips", Integer.toString(o.flips()), "--flips-from", Integer.toString(steadyFrom), "--flips-to",
        Integer.toString(steadyFrom + o.steady()));
  }

  @Override
  public List<EndpointProcess> endpoints() {
    return replicas;
  }

  @Override
  public List<ProcSeries> parts(int seconds) {
    for (EndpointProcess r : replicas) {
      replicaSeries.add(new ProcSeries(r.name(), seconds, () -> List.of(r.pid())));
    }
    mockSeries = new ProcSeries("mock", seconds, () -> List.of(mock.pid()));
    relaySeries = new ProcSeries("relay", seconds, () -> List.of(relay.pid()));
    List<ProcSeries> parts = new ArrayList<>(replicaSeries);
    parts.addAll(List.of(mockSeries, relaySeries));
    return parts;
  }

  @Override
  public void begin(long t0Millis, int seconds) {
    this.t0Millis = t0Millis;
    api = new ApiLog(t0Millis, seconds);
  }

  @Override
  public void sample(int second) throws IOException {
    api.read(work.resolve("api.log"));
  }

  @Override
  public String describe(int s) {
    return String.format(Locale.ROOT, "; API %d/s (writes %d, 409 %d), mock CPU %s%%, RSS %d MiB", api.all()[s],
        api.writes()[s], api.conflicts()[s], mockSeries.cpuPct(s).isEmpty() ? "-" : mockSeries.cpuPct(s),
        mockSeries.rssKb()[s] / 1024);
  }

  @Override
  public void outage() throws InterruptedException {
    if (mockHwmSteady == 0 && mockSeries != null) {
      mockHwmSteady = mockSeries.hwmKb(); // the outage begins at the end of the steady window
    }
    replicas.forEach(EndpointProcess::signalStop);
    for (EndpointProcess r : replicas) {
      r.awaitStop();
    }
  }

  @Override
  public void restart() throws Failed, IOException, InterruptedException {
    startReplicas("start again");
  }

  @Override
  public void results(FleetReport.Results r, Phases p, FleetStats stats, EndpointLogs logs, Timeline timeline)
      throws IOException, InterruptedException {
    outage(); // the replicas stop writing before the census
    api.read(work.resolve("api.log"));
    Files.writeString(work.resolve("census-request"), "");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(work.resolve("census")) && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    List<String> census = Files.exists(work.resolve("census")) ? Files.readAllLines(work.resolve("census"))
        : List.of("none in 60 s");
    new ApiFigures(api, p, o.agents(), replicas.size()).put(r, stats, logs, census);
    flips(r, p);
    for (ProcSeries part : replicaSeries) {
      String k = part.name().replace('-', '_');
      r.put(k + "_cpu_pct", f1(100 * FleetReport.cores(part.ticks(), p.steadyFrom(), p.steadyTo())));
      r.put(k + "_rss_mib", f1(part.rssKb()[p.steadyTo() - 2] / 1024.0));
      r.put(k + "_recovery_rss_mib", f1(part.rssKb()[p.end() - 1] / 1024.0));
    }
    r.put("mock_cpu_pct", f1(100 * FleetReport.cores(mockSeries.ticks(), p.steadyFrom(), p.steadyTo())));
    r.put("mock_recovery_cpu_pct", f1(100 * FleetReport.cores(mockSeries.ticks(), p.restartedAt(), p.end())));
    r.put("mock_rss_mib", f1(mockSeries.rssKb()[p.steadyTo() - 2] / 1024.0));
    r.put("mock_hwm_mib", f1(mockHwmSteady / 1024.0));
    r.put("mock_end_hwm_mib", f1(mockSeries.hwmKb() / 1024.0));
    r.put("relay_cpu_pct", f1(100 * FleetReport.cores(relaySeries.ticks(), p.steadyFrom(), p.steadyTo())));
    for (int i = 0; i < replicas.size(); i++) {
      timeline.column(replicas.get(i).name().replace('-', '_') + "_answered", logs.answered(i));
    }
    ApiFigures.timeline(api, timeline);
    timeline.column("mock_cpu_pct", mockSeries::cpuPct)
        .column("mock_rss_mib", s -> Long.toString(mockSeries.rssKb()[s] / 1024));
  }

  /**
   * The sidecar flips: what the agents saw ({@code flips-N}) paired with the entries' status writes
   * ({@code status-writes.log}) that arrived before the outage; each flip in RESULTS/P7.flips.csv.
   */
  private void flips(FleetReport.Results r, Phases p) throws IOException {
    List<FlipDelays.Flip> seen = new ArrayList<>();
    for (int k = 0; Files.exists(work.resolve("flips-" + k)); k++) {
      Files.readAllLines(work.resolve("flips-" + k)).stream().filter(l -> !l.isBlank()).map(FlipDelays.Flip::parse)
          .forEach(seen::add);
    }
    List<FlipDelays.Write> writes = new ArrayList<>();
    Path log = work.resolve("status-writes.log");
    if (Files.exists(log)) {
      try (var lines = Files.lines(log)) {
        lines.map(FlipDelays.Write::parse).filter(w -> w != null).forEach(writes::add);
      }
    }
    List<FlipDelays.Paired> paired = FlipDelays.pair(seen, writes, t0Millis + p.steadyTo() * 1000L);
    StringBuilder csv = new StringBuilder("entry,dead_at,serving,to_false_ms,back_at,to_true_ms\n");
    paired.forEach(x -> csv.append(x.flip().entry()).append(',').append(x.flip().deadAt()).append(',')
        .append(x.serving()).append(',').append(x.toFalse()).append(',').append(x.flip().backAt()).append(',')
        .append(x.toTrue()).append('\n'));
    Files.writeString(o.results().resolve("P7.flips.csv"), csv);
    r.put("flips", o.flips());
    r.put("flips_seen", paired.stream().filter(x -> x.flip().deadAt() != FlipDelays.NONE).count());
    r.put("flips_not_serving", paired.stream().filter(x -> x.flip().deadAt() != FlipDelays.NONE && !x.serving())
        .count());
    put(r, "flip_false", FlipDelays.toFalse(paired));
    put(r, "flip_true", FlipDelays.toTrue(paired));
  }

  private static void put(FleetReport.Results r, String key, FlipDelays.Delays d) throws IOException {
    r.put(key + "_n", d.count());
    r.put(key + "_missing", d.missing());
    for (int pct : new int[] {50, 99, 100}) {
      double v = d.percentile(pct);
      r.put(key + (pct == 100 ? "_max" : "_p" + pct) + "_ms", Double.isNaN(v) ? "nan" : Long.toString((long) v));
    }
  }

  @Override
  public void close() {
    try {
      outage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Process q : new Process[] {relay, mock}) {
      if (q == null) {
        continue;
      }
      q.destroy();
      try {
        if (!q.waitFor(20, TimeUnit.SECONDS)) {
          q.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
