package io.istiovmagent.bench;

import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * One named part of a fleet run as /proc shows it, second by second: its processes' CPU used so far (clock ticks,
 * summed; -1 while none is running) and resident memory (summed), and its peak resident memory when asked. A part
 * whose process is started again (the endpoint after the outage) starts again from its new process's counters.
 */
final class ProcSeries {
  private final String name;
  private final Supplier<List<Long>> pids;
  private final long[] ticks;
  private final long[] rssKb;

  ProcSeries(String name, int seconds, Supplier<List<Long>> pids) {
    this.name = name;
    this.pids = pids;
    this.ticks = new long[seconds];
    this.rssKb = new long[seconds];
  }

  String name() {
    return name;
  }

  /** Reads /proc for second {@code s}. */
  void sample(int s) {
    long t = 0;
    long r = 0;
    boolean any = false;
    for (long pid : pids.get()) {
      Optional<Proc.Sample> p = pid > 0 ? Proc.sample(pid) : Optional.empty();
      if (p.isPresent()) {
        any = true;
        t += p.get().cpuTicks();
        r += p.get().rssKb();
      }
    }
    ticks[s] = any ? t : -1;
    rssKb[s] = r;
  }

  /** The peak resident memory of its processes now (VmHWM, summed), in kB. */
  long hwmKb() {
    long h = 0;
    for (long pid : pids.get()) {
      h += (pid > 0 ? Proc.sample(pid) : Optional.<Proc.Sample>empty()).map(Proc.Sample::hwmKb).orElse(0L);
    }
    return h;
  }

  long[] ticks() {
    return ticks;
  }

  long[] rssKb() {
    return rssKb;
  }

  /** CPU used in second s, in % of one core, or "" when it was not running throughout. */
  String cpuPct(int s) {
    return s > 0 && ticks[s] >= 0 && ticks[s - 1] >= 0 && ticks[s] >= ticks[s - 1]
        ? Long.toString((ticks[s] - ticks[s - 1]) * 100 / Proc.CLOCK_TICKS) : "";
  }
}
