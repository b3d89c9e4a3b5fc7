package io.istiovmagent.bench;

import static io.istiovmagent.bench.FleetReport.cores;
import static io.istiovmagent.bench.FleetReport.f1;
import static io.istiovmagent.bench.FleetReport.f2;
import static io.istiovmagent.bench.FleetReport.ms;
import static io.istiovmagent.bench.FleetReport.sum;
import static io.istiovmagent.bench.FleetReport.writeTimeline;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import okhttp3.tls.HeldCertificate;

/**
 * P5, the fleet benchmark (bench/p5-fleet; docs/performance.md says what is measured and how): thousands of agents,
 * each with the agent's real reporter and fetch logic and its own HTTPS client, in a few fleet JVMs at nice 19,
 * against `istio-vm-agent serve` from the package as its own process at normal priority. Real time throughout.
 * Phases, in seconds from the first join: the ramp (agents join evenly over it), a settling time, the steady window,
 * then the endpoint is stopped (SIGTERM) for the outage, started again, and the recovery is watched.
 *
 * <p>This coordinator holds no agent; it starts the endpoint and the fleet JVMs, samples /proc and reads the
 * endpoint's request log once a second, and writes the figures to RESULTS/P5.tsv for bench/run.
 */
public final class FleetBench {
  static final String NS = "vm-namespace";
  static final String GROUP = "hello-vm";
  /** Agents per fleet JVM (see FleetWorker for why several). */
  private static final int AGENTS_PER_JVM = 2500;
  /** The window of the recovery peak, in seconds: long enough not to be one second's noise. */
  static final int PEAK_WINDOW = 10;

  private FleetBench() {}

  public static void main(String[] args) throws Exception {
    FleetOptions o;
    try {
      o = FleetOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(64);
      return;
    }
    System.exit(new FleetBench.Run(o).run());
  }

  private static final class Run {
    private final FleetOptions o;
    private final List<Process> workers = new ArrayList<>();
    private EndpointProcess endpoint;
    private long t0 = System.nanoTime();

    Run(FleetOptions o) {
      this.o = o;
    }

    private void say(String s) {
      System.err.printf(Locale.ROOT, "[%6.1fs] %s%n", (System.nanoTime() - t0) / 1e9, s);
    }

    int run() throws Exception {
      Path work = o.work();
      Files.createDirectories(work);
      Files.createDirectories(o.results());
      // Whatever ends this JVM (the bench's SIGTERM included) stops what it started, by pid.
      Runtime.getRuntime().addShutdownHook(new Thread(this::stopAll, "fleet-stop"));
      String loadStart = Proc.loadavg();
      say("P5 fleet: " + o.agents() + " agents; ramp " + o.ramp() + "s, settle " + o.settle() + "s, steady "
          + o.steady() + "s, outage " + o.outage() + "s, recovery " + o.recovery() + "s; load " + loadStart);

      int port = setUpEndpointFiles(work);
      endpoint = new EndpointProcess(work, o.onboarding(), o.endpointJavaOpts(), List.of("--bundles",
          work.resolve("bundles").toString(), "--tokens", work.resolve("tokens.yaml").toString(), "--listen",
          "127.0.0.1:" + port, "--cert", work.resolve("endpoint.pem").toString(), "--key",
          work.resolve("endpoint-key.pem").toString()), port);
      endpoint.start();
      if (!endpoint.awaitReady(Duration.ofSeconds(90))) {
        say("the endpoint did not start; its log:\n" + Files.readString(endpoint.log()));
        return 1;
      }
      say("endpoint pid " + endpoint.pid() + " on 127.0.0.1:" + port);

      int steadyFrom = o.ramp() + o.settle();
      int steadyTo = steadyFrom + o.steady();
      int seconds = steadyTo + o.outage() + o.recovery() + 60;
      int jvms = Math.max(1, (o.agents() + AGENTS_PER_JVM - 1) / AGENTS_PER_JVM);
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      for (int k = 0; k < jvms; k++) {
        int from = (int) ((long) o.agents() * k / jvms);
        int to = (int) ((long) o.agents() * (k + 1) / jvms);
        // nice 19: the fleet stands for thousands of other machines; on this one the endpoint gets the CPU first.
        List<String> cmd = List.of("nice", "-n", "19", java, "-Xss256k", "-Xms512m", "-Xmx1g", "-XX:+UseParallelGC",
            "-XX:ParallelGCThreads=2", "-Dfile.encoding=UTF-8", "-cp", System.getProperty("java.class.path"),
            FleetWorker.class.getName(), "--work", work.toString(), "--index", "" + k, "--from", "" + from, "--to",
            "" + to, "--agents", "" + o.agents(), "--ramp", "" + o.ramp(), "--seconds", "" + seconds, "--port",
            "" + port, "--seed", "" + o.seed());
        workers.add(new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(work.resolve("worker-" + k + ".log").toFile()).start());
      }
      for (int k = 0; k < jvms; k++) {
        while (!Files.exists(work.resolve("ready-" + k))) {
          if (!workers.get(k).isAlive()) {
            say("fleet JVM " + k + " exited; its log:\n" + Files.readString(work.resolve("worker-" + k + ".log")));
            return 1;
          }
          Thread.sleep(100);
        }
      }
      long joinAt = System.currentTimeMillis() + 1000;
      atomicWrite(work.resolve("t0"), joinAt + "\n");
      say(jvms + " fleet JVMs up (pids " + workers.stream().map(w -> "" + w.pid()).toList() + "), warmed up");
      Thread.sleep(Math.max(0, joinAt - System.currentTimeMillis()));
      t0 = System.nanoTime();

      EndpointLog log = new EndpointLog(seconds);
      log.read(endpoint.log(), -1); // the warm-up's requests are not the fleet's
      long[] epTicks = new long[seconds];
      long[] epRss = new long[seconds];
      long[] fleetTicks = new long[seconds];
      long[] busy = new long[seconds];
      long[] total = new long[seconds];
      long hwmSteady = 0;
      long hwmRecovery = 0;
      int stoppedAt = -1;
      int restartedAt = -1;
      int end = seconds - 1;
      for (int s = 0; s < end; s++) {
        long wake = t0 + (s + 1) * 1_000_000_000L;
        Thread.sleep(Math.max(0, (wake - System.nanoTime()) / 1_000_000));
        log.read(endpoint.log(), s);
        Optional<Proc.Sample> ep = endpoint.alive() ? Proc.sample(endpoint.pid()) : Optional.empty();
        epTicks[s] = ep.map(Proc.Sample::cpuTicks).orElse(-1L);
        epRss[s] = ep.map(Proc.Sample::rssKb).orElse(0L);
        for (Process w : workers) {
          fleetTicks[s] += Proc.sample(w.pid()).map(Proc.Sample::cpuTicks).orElse(0L);
        }
        Optional<Proc.Machine> m = Proc.machine();
        busy[s] = m.map(Proc.Machine::busy).orElse(0L);
        total[s] = m.map(Proc.Machine::total).orElse(0L);
        if (s % 10 == 0) {
          int[] a = log.answered();
          say(String.format(Locale.ROOT, "second %3d: endpoint %s, answered %d/s (503: %d), CPU %s%%, RSS %d MiB, "
              + "load %s", s, endpoint.alive() ? "up" : "down", a[s], log.shed()[s],
              s > 0 && epTicks[s - 1] >= 0 && epTicks[s] >= 0 ? "" + (epTicks[s] - epTicks[s - 1]) : "-",
              epRss[s] / 1024, Proc.loadavg()));
        }
        for (int k = 0; k < jvms; k++) {
          if (!workers.get(k).isAlive()) {
            say("fleet JVM " + k + " ended early (exit " + workers.get(k).exitValue() + "); its log:\n"
                + Files.readString(work.resolve("worker-" + k + ".log")));
            return 1;
          }
        }
        if (s == steadyTo - 1) {
          hwmSteady = ep.map(Proc.Sample::hwmKb).orElse(0L);
          say("outage: stopping the endpoint (SIGTERM) for " + o.outage() + "s");
          endpoint.stop();
          stoppedAt = s + 1;
        } else if (stoppedAt >= 0 && restartedAt < 0 && s == stoppedAt + o.outage() - 1) {
          say("recovery: starting the endpoint again");
          endpoint.start();
          if (!endpoint.awaitReady(Duration.ofSeconds(90))) {
            say("the endpoint did not start again; its log:\n" + Files.readString(endpoint.log()));
            return 1;
          }
          atomicWrite(work.resolve("recovered-at"), System.currentTimeMillis() + "\n");
          restartedAt = (int) ((System.nanoTime() - t0) / 1_000_000_000L);
          end = Math.min(seconds - 1, restartedAt + o.recovery());
          say("endpoint pid " + endpoint.pid() + " accepting again in second " + restartedAt);
        } else if (restartedAt >= 0 && s == end - 1) {
          hwmRecovery = ep.map(Proc.Sample::hwmKb).orElse(0L);
        }
      }
      String loadEnd = Proc.loadavg();
      say("stopping the fleet JVMs and the endpoint");
      Files.writeString(work.resolve("stop"), "");
      FleetStats stats = new FleetStats(0, seconds);
      for (int k = 0; k < jvms; k++) {
        if (!workers.get(k).waitFor(120, TimeUnit.SECONDS)) {
          say("fleet JVM " + k + " did not write its counts in 2 minutes");
          return 1;
        }
        stats.addFrom(work.resolve("worker-" + k + ".stats"));
      }
      endpoint.stop();

      // ---- the figures
      FleetReport.Results r = new FleetReport.Results(o.results().resolve("P5.tsv"));
      int[] attempts = stats.attemptsPerSecond();
      double steadyRps = FleetStats.mean(attempts, steadyFrom, steadyTo);
      r.put("agents", o.agents());
      r.put("steady_s", o.steady());
      r.put("outage_s", o.outage());
      r.put("steady_rps", f1(steadyRps));
      r.put("steady_health_rps", f1(FleetStats.mean(stats.attemptsPerSecond(FleetStats.Kind.HEALTH), steadyFrom,
          steadyTo)));
      r.put("steady_bundle_rps", f1(FleetStats.mean(stats.attemptsPerSecond(FleetStats.Kind.BUNDLE), steadyFrom,
          steadyTo)));
      r.put("endpoint_steady_rps", f1(FleetStats.mean(log.answered(), steadyFrom, steadyTo)));
      r.put("steady_503", sum(log.shed(), steadyFrom, steadyTo));
      r.put("steady_failed", sum(stats.failedPerSecond(), steadyFrom, steadyTo));
      long[] answer = log.micros(steadyFrom, steadyTo, false);
      long[] exchange = log.micros(steadyFrom, steadyTo, true);
      long[] client = stats.durations(steadyFrom, steadyTo);
      r.put("endpoint_requests", answer.length);
      r.put("p50_ms", ms(FleetStats.percentile(answer, 50)));
      r.put("p99_ms", ms(FleetStats.percentile(answer, 99)));
      r.put("max_ms", ms(FleetStats.percentile(answer, 100)));
      r.put("exchange_p50_ms", ms(FleetStats.percentile(exchange, 50)));
      r.put("exchange_p99_ms", ms(FleetStats.percentile(exchange, 99)));
      r.put("client_p50_ms", ms(FleetStats.percentile(client, 50)));
      r.put("client_p99_ms", ms(FleetStats.percentile(client, 99)));
      double epCores = cores(epTicks, steadyFrom, steadyTo);
      r.put("endpoint_cpu_pct", f1(100 * epCores));
      r.put("endpoint_cpu_ms_per_request", f2(1000 * epCores / FleetStats.mean(log.answered(), steadyFrom,
          steadyTo)));
      r.put("endpoint_rss_mib", f1(epRss[steadyTo - 2] / 1024.0));
      r.put("endpoint_hwm_mib", f1(hwmSteady / 1024.0));
      r.put("endpoint_recovery_hwm_mib", f1(hwmRecovery / 1024.0));
      r.put("fleet_cpu_pct", f1(100 * cores(fleetTicks, steadyFrom, steadyTo)));
      r.put("machine_busy_pct", f1(100.0 * (busy[steadyTo - 2] - busy[steadyFrom])
          / Math.max(1, total[steadyTo - 2] - total[steadyFrom])));
      r.put("fetch_max_lag_ms", stats.maxFetchLagMillis());
      r.put("fetches_late", stats.lateFetches());
      r.put("outage_attempts_rps", f1(FleetStats.mean(attempts, stoppedAt + 1, restartedAt)));
      FleetStats.Peak peak = FleetStats.peak(attempts, restartedAt, end, PEAK_WINDOW);
      r.put("recovery_peak_rps", f1(peak.rate()));
      r.put("recovery_peak_at_s", peak.at() - restartedAt);
      r.put("recovery_peak_ratio", f2(peak.rate() / steadyRps));
      r.put("endpoint_recovery_peak_rps", f1(FleetStats.peak(log.answered(), restartedAt, end, PEAK_WINDOW).rate()));
      r.put("recovery_503", sum(log.shed(), restartedAt, end));
      int[] back = stats.recoveredPerSecond();
      int allBack = -1;
      for (int s = restartedAt; s < end && allBack < 0; s++) {
        allBack = back[s] >= o.agents() ? s - restartedAt : -1;
      }
      r.put("all_back_s", allBack);
      r.put("load_before", loadStart);
      r.put("load_after", loadEnd);
      r.put("started", Instant.now().minusNanos(System.nanoTime() - t0).toString());
      writeTimeline(work.resolve("timeline.csv"), stats, log, epTicks, epRss, fleetTicks, end);
      say("P5 figures:\n" + r.text());
      stats.failureReasons().stream().limit(8).forEach(x -> say("  failed: " + x));
      return 0;
    }

    /** The control plane's files: istioctl's for one group, a join token, a certificate from a private CA. */
    private int setUpEndpointFiles(Path work) throws IOException {
      SplittableRandom random = new SplittableRandom(o.seed());
      Path group = work.resolve("bundles").resolve(NS).resolve(GROUP);
      Files.createDirectories(group);
      for (Map.Entry<BundleFile, byte[]> e : SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now())
          .entrySet()) {
        Files.write(group.resolve(e.getKey().fileName()), e.getValue());
      }
      String join = "jt-" + hex(random);
      secret(work.resolve("join-token"), join + "\n");
      secret(work.resolve("tokens.yaml"), "tokens:\n  - token: " + join + "\n    namespace: " + NS + "\n    group: "
          + GROUP + "\n");
      HeldCertificate ca = new HeldCertificate.Builder().commonName("fleet bench CA").certificateAuthority(0).build();
      HeldCertificate leaf = new HeldCertificate.Builder().commonName("localhost").addSubjectAlternativeName(
          "localhost").addSubjectAlternativeName("127.0.0.1").duration(2, TimeUnit.DAYS).signedBy(ca).build();
      Files.writeString(work.resolve("ca.pem"), ca.certificatePem());
      Files.writeString(work.resolve("endpoint.pem"), leaf.certificatePem());
      secret(work.resolve("endpoint-key.pem"), leaf.privateKeyPkcs8Pem());
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
        return s.getLocalPort();
      }
    }

    private synchronized void stopAll() {
      for (Process w : workers) {
        w.destroy();
      }
      try {
        if (endpoint != null) {
          endpoint.stop();
        }
        for (Process w : workers) {
          if (!w.waitFor(10, TimeUnit.SECONDS)) {
            w.destroyForcibly();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void atomicWrite(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void secret(Path file, String text) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, text, StandardCharsets.US_ASCII);
  }

  private static String hex(SplittableRandom r) {
    byte[] b = new byte[24];
    r.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
