package io.istiovmagent.bench;

import static io.istiovmagent.bench.FleetReport.cores;
import static io.istiovmagent.bench.FleetReport.f1;
import static io.istiovmagent.bench.FleetReport.f2;
import static io.istiovmagent.bench.FleetReport.ms;
import static io.istiovmagent.bench.FleetReport.sum;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The fleet benchmark (docs/performance.md says what is measured and how): thousands of agents, each with the
 * agent's real reporter and fetch logic and its own HTTPS client, in a few fleet JVMs at SCHED_IDLE (chrt --idle),
 * against the onboarding service as its own processes at normal priority. P5 (bench/p5-fleet) meets one endpoint over a directory
 * of bundles; P7 (bench/p7-fleet-kubernetes) the Kubernetes mode's replicas and the mock API server
 * ({@link FleetService}). Real time throughout. Phases, in seconds from the first join: the ramp (agents join evenly
 * over it), a settling time, the steady window, then the service is stopped (SIGTERM) for the outage, started again,
 * and the recovery is watched.
 *
 * <p>This coordinator holds no agent; it starts the service and the fleet JVMs, samples /proc and reads the
 * endpoints' request logs once a second, and writes the figures to RESULTS/P5.tsv (P7.tsv) for bench/run.
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
    FleetService service = o.kubernetes() ? new KubernetesService(o) : new DirectoryService(o);
    System.exit(new FleetBench.Run(o, service).run());
  }

  private static final class Run {
    private final FleetOptions o;
    private final FleetService service;
    private final List<Process> workers = new ArrayList<>();
    private long t0 = System.nanoTime();

    Run(FleetOptions o, FleetService service) {
      this.o = o;
      this.service = service;
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
      say(o.figure() + " fleet: " + o.agents() + " agents; ramp " + o.ramp() + "s, settle " + o.settle()
          + "s, steady " + o.steady() + "s, outage " + o.outage() + "s, recovery " + o.recovery() + "s; load "
          + loadStart);
      int port;
      try {
        port = service.start();
      } catch (FleetService.Failed e) {
        say(e.getMessage());
        return 1;
      }
      List<EndpointProcess> endpoints = service.endpoints();
      say("service up: " + endpoints.stream().map(e -> e.name() + " pid " + e.pid()).toList() + "; agents connect to "
          + "127.0.0.1:" + port);

      int steadyFrom = o.ramp() + o.settle();
      int steadyTo = steadyFrom + o.steady();
      int seconds = steadyTo + o.outage() + o.recovery() + 60;
      int jvms = Math.max(1, (o.agents() + AGENTS_PER_JVM - 1) / AGENTS_PER_JVM);
      startFleet(work, jvms, port, seconds);
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
      BenchFiles.atomicWrite(work.resolve("t0"), joinAt + "\n");
      say(jvms + " fleet JVMs up (pids " + workers.stream().map(w -> "" + w.pid()).toList() + "), warmed up");
      Thread.sleep(Math.max(0, joinAt - System.currentTimeMillis()));
      t0 = System.nanoTime();

      EndpointLogs logs = new EndpointLogs(endpoints, seconds);
      logs.read(-1); // the warm-up's requests are not the fleet's
      service.begin(joinAt, seconds);
      ProcSeries endpoint = new ProcSeries("endpoint", seconds, () -> endpoints.stream().map(EndpointProcess::pid)
          .toList());
      ProcSeries fleet = new ProcSeries("fleet", seconds, () -> workers.stream().map(Process::pid).toList());
      List<ProcSeries> sampled = new ArrayList<>(List.of(endpoint, fleet));
      sampled.addAll(service.parts(seconds));
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
        logs.read(s);
        service.sample(s);
        for (ProcSeries p : sampled) {
          p.sample(s);
        }
        Optional<Proc.Machine> m = Proc.machine();
        busy[s] = m.map(Proc.Machine::busy).orElse(0L);
        total[s] = m.map(Proc.Machine::total).orElse(0L);
        if (s % 10 == 0) {
          int[] a = logs.answered();
          boolean up = endpoints.stream().allMatch(EndpointProcess::alive);
          say(String.format(Locale.ROOT, "second %3d: endpoint %s, answered %d/s (503: %d), CPU %s%%, RSS %d MiB%s, "
              + "load %s", s, up ? "up" : "down", a[s], logs.shed()[s], endpoint.cpuPct(s).isEmpty() ? "-"
              : endpoint.cpuPct(s), endpoint.rssKb()[s] / 1024, service.describe(s), Proc.loadavg()));
        }
        for (int k = 0; k < jvms; k++) {
          if (!workers.get(k).isAlive()) {
            say("fleet JVM " + k + " ended early (exit " + workers.get(k).exitValue() + "); its log:\n"
                + Files.readString(work.resolve("worker-" + k + ".log")));
            return 1;
          }
        }
        if (s == steadyTo - 1) {
          hwmSteady = endpoint.hwmKb();
          say("outage: stopping the service (SIGTERM) for " + o.outage() + "s");
          service.outage();
          stoppedAt = s + 1;
        } else if (stoppedAt >= 0 && restartedAt < 0 && s == stoppedAt + o.outage() - 1) {
          say("recovery: starting the service again");
          try {
            service.restart();
          } catch (FleetService.Failed e) {
            say(e.getMessage());
            return 1;
          }
          BenchFiles.atomicWrite(work.resolve("recovered-at"), System.currentTimeMillis() + "\n");
          restartedAt = (int) ((System.nanoTime() - t0) / 1_000_000_000L);
          end = Math.min(seconds - 1, restartedAt + o.recovery());
          say("service accepting again in second " + restartedAt + ": " + endpoints.stream().map(e -> e.name()
              + " pid " + e.pid()).toList());
        } else if (restartedAt >= 0 && s == end - 1) {
          hwmRecovery = endpoint.hwmKb();
        }
      }
      String loadEnd = Proc.loadavg();
      say("stopping the fleet JVMs");
      Files.writeString(work.resolve("stop"), "");
      FleetStats stats = new FleetStats(0, seconds);
      for (int k = 0; k < jvms; k++) {
        if (!workers.get(k).waitFor(120, TimeUnit.SECONDS)) {
          say("fleet JVM " + k + " did not write its counts in 2 minutes");
          return 1;
        }
        stats.addFrom(work.resolve("worker-" + k + ".stats"));
      }

      // ---- the figures
      FleetReport.Results r = new FleetReport.Results(o.results().resolve(o.figure() + ".tsv"));
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
      r.put("endpoint_steady_rps", f1(FleetStats.mean(logs.answered(), steadyFrom, steadyTo)));
      r.put("steady_503", sum(logs.shed(), steadyFrom, steadyTo));
      r.put("steady_failed", sum(stats.failedPerSecond(), steadyFrom, steadyTo));
      long[] answer = logs.micros(steadyFrom, steadyTo, false);
      long[] exchange = logs.micros(steadyFrom, steadyTo, true);
      long[] client = stats.durations(steadyFrom, steadyTo);
      r.put("endpoint_requests", answer.length);
      r.put("p50_ms", ms(FleetStats.percentile(answer, 50)));
      r.put("p99_ms", ms(FleetStats.percentile(answer, 99)));
      r.put("max_ms", ms(FleetStats.percentile(answer, 100)));
      // By route: a bundle fetch mints a token at the API server, a report does not.
      long[] reports = logs.micros(steadyFrom, steadyTo, false, false);
      long[] fetches = logs.micros(steadyFrom, steadyTo, false, true);
      r.put("report_p99_ms", ms(FleetStats.percentile(reports, 99)));
      r.put("bundle_p50_ms", ms(FleetStats.percentile(fetches, 50)));
      r.put("bundle_p99_ms", ms(FleetStats.percentile(fetches, 99)));
      r.put("exchange_p50_ms", ms(FleetStats.percentile(exchange, 50)));
      r.put("exchange_p99_ms", ms(FleetStats.percentile(exchange, 99)));
      r.put("client_p50_ms", ms(FleetStats.percentile(client, 50)));
      r.put("client_p99_ms", ms(FleetStats.percentile(client, 99)));
      double epCores = cores(endpoint.ticks(), steadyFrom, steadyTo);
      r.put("endpoint_cpu_pct", f1(100 * epCores));
      r.put("endpoint_cpu_ms_per_request", f2(1000 * epCores / FleetStats.mean(logs.answered(), steadyFrom,
          steadyTo)));
      r.put("endpoint_rss_mib", f1(endpoint.rssKb()[steadyTo - 2] / 1024.0));
      r.put("endpoint_hwm_mib", f1(hwmSteady / 1024.0));
      r.put("endpoint_recovery_hwm_mib", f1(hwmRecovery / 1024.0));
      r.put("fleet_cpu_pct", f1(100 * cores(fleet.ticks(), steadyFrom, steadyTo)));
      r.put("machine_busy_pct", f1(100.0 * (busy[steadyTo - 2] - busy[steadyFrom])
          / Math.max(1, total[steadyTo - 2] - total[steadyFrom])));
      r.put("fetch_max_lag_ms", stats.maxFetchLagMillis());
      r.put("fetches_late", stats.lateFetches());
      r.put("outage_attempts_rps", f1(FleetStats.mean(attempts, stoppedAt + 1, restartedAt)));
      FleetStats.Peak peak = FleetStats.peak(attempts, restartedAt, end, PEAK_WINDOW);
      r.put("recovery_peak_rps", f1(peak.rate()));
      r.put("recovery_peak_at_s", peak.at() - restartedAt);
      r.put("recovery_peak_ratio", f2(peak.rate() / steadyRps));
      r.put("endpoint_recovery_peak_rps", f1(FleetStats.peak(logs.answered(), restartedAt, end, PEAK_WINDOW).rate()));
      r.put("recovery_503", sum(logs.shed(), restartedAt, end));
      int[] back = stats.recoveredPerSecond();
      int allBack = -1;
      for (int s = restartedAt; s < end && allBack < 0; s++) {
        allBack = back[s] >= o.agents() ? s - restartedAt : -1;
      }
      r.put("all_back_s", allBack);
      r.put("load_before", loadStart);
      r.put("load_after", loadEnd);
      r.put("started", Instant.now().minusNanos(System.nanoTime() - t0).toString());
      Timeline timeline = FleetReport.timeline(stats, logs, endpoint, fleet);
      service.results(r, new FleetService.Phases(steadyFrom, steadyTo, stoppedAt, restartedAt, end), stats, logs,
          timeline);
      timeline.column("agents_back", back).write(work.resolve("timeline.csv"), end);
      say(o.figure() + " figures:\n" + r.text());
      stats.failureReasons().stream().limit(8).forEach(x -> say("  failed: " + x));
      return 0;
    }

    private void startFleet(Path work, int jvms, int port, int seconds) throws java.io.IOException {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      for (int k = 0; k < jvms; k++) {
        int from = (int) ((long) o.agents() * k / jvms);
        int to = (int) ((long) o.agents() * (k + 1) / jvms);
        // SCHED_IDLE: the fleet stands for thousands of other machines; on this one the service gets the CPU first.
        // (nice 19 did not assure it: thousands of runnable agent threads at nice 19 outweigh a replica's few at 0.)
        // 1.5 GB: at the end of a 10,000-agent ramp 1 GB JVMs were at their limit, collecting for up to 0.8 s.
        List<String> cmd = new ArrayList<>(List.of("chrt", "--idle", "0", java, "-Xss256k", "-Xms512m", "-Xmx1536m",
            "-XX:+UseParallelGC", "-XX:ParallelGCThreads=2", "-Dfile.encoding=UTF-8", "-cp",
            System.getProperty("java.class.path"), FleetWorker.class.getName(), "--work", work.toString(), "--index",
            "" + k, "--from", "" + from, "--to", "" + to, "--agents", "" + o.agents(), "--ramp", "" + o.ramp(),
            "--seconds", "" + seconds, "--port", "" + port, "--seed", "" + o.seed()));
        cmd.addAll(service.fleetArgs());
        workers.add(new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(work.resolve("worker-" + k + ".log").toFile()).start());
      }
    }

    private synchronized void stopAll() {
      for (Process w : workers) {
        w.destroy();
      }
      try {
        service.close();
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
}
