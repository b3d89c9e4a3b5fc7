package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * P7's sidecar flips in one fleet JVM: {@code flips} agents of the whole fleet, each once, see their sidecar die
 * during the steady window, spread evenly over it; {@link #DOWN} later systemd has started it again and
 * {@link #NOT_READY} after that Envoy answers ready. Each agent records when it saw the death and the return
 * ({@link FlipDelays.Flip}); the coordinator pairs them with the API server's writes. Which agents and when depends
 * only on the fleet's size and the window, so the fleet is the same for any number of JVMs.
 */
final class SidecarFlips {
  /** How long a flipped sidecar stays dead (istio.service restarts after RestartSec=10; a slower start is kept). */
  static final long DOWN = 30_000;
  /** From the restart to Envoy's first "ready": it fetches its configuration first. */
  static final long NOT_READY = 2_000;
  /** What is left of the window after the last flip's return, for its writes to arrive before the outage. */
  static final long MARGIN = 5_000;

  /** Agent {@code agent} (of the whole fleet) sees its sidecar die {@code at} ms after second 0, back DOWN later. */
  record Planned(int agent, long at, long down) {}

  private final List<Planned> plan;
  /** What each planned flip's agent saw so far, by the flip's place in {@link #plan}; null before it began. */
  private final FlipDelays.Flip[] seen;

  private SidecarFlips(List<Planned> plan) {
    this.plan = plan;
    this.seen = new FlipDelays.Flip[plan.size()];
  }

  /**
   * The flips of agents {@code [from, to)}, of {@code flips} over a fleet of {@code agents}, in the steady window
   * {@code [windowFrom, windowTo)} (seconds from second 0). A window too short for DOWN is given a third of it.
   */
  static SidecarFlips of(int from, int to, int agents, int flips, int windowFrom, int windowTo) {
    long window = (windowTo - windowFrom) * 1000L;
    long down = Math.min(DOWN, window / 3);
    long span = Math.max(0, window - down - NOT_READY - MARGIN);
    int n = Math.min(flips, agents);
    List<Planned> plan = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      int agent = (int) ((long) k * agents / n);
      if (agent >= from && agent < to) {
        plan.add(new Planned(agent, windowFrom * 1000L + k * span / n, down));
      }
    }
    return new SidecarFlips(plan);
  }

  List<Planned> plan() {
    return plan;
  }

  /**
   * Schedules each flip on {@code timer}: the agent sees the death, the restart, Envoy ready ({@code fleet.get(i)} is
   * agent {@code from + i}; its entry is {@code namespace/group-MACHINE-ID}, as onboarding's EntryPlan names it).
   */
  void schedule(List<FleetAgent> fleet, int from, String namespace, String group, ScheduledExecutorService timer,
      long t0) {
    for (int i = 0; i < plan.size(); i++) {
      int k = i;
      Planned p = plan.get(k);
      FleetAgent agent = fleet.get(p.agent() - from);
      String entry = namespace + "/" + group + "-" + agent.machineId();
      timer.schedule(() -> {
        long deadAt = agent.sidecarDied();
        record(k, new FlipDelays.Flip(entry, deadAt, FlipDelays.NONE));
        if (deadAt == FlipDelays.NONE) {
          return; // no bundle yet, so no sidecar: nothing to lose
        }
        timer.schedule(() -> {
          agent.sidecarRestarted();
          timer.schedule(() -> record(k, new FlipDelays.Flip(entry, deadAt, agent.envoyReady())), NOT_READY,
              TimeUnit.MILLISECONDS);
        }, p.down(), TimeUnit.MILLISECONDS);
      }, Math.max(0, t0 + p.at() - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
    }
  }

  private synchronized void record(int k, FlipDelays.Flip f) {
    seen[k] = f;
  }

  /** What the agents saw, one flip a line, as far as each got; flips not begun yet are left out. */
  synchronized void writeTo(Path file) throws IOException {
    StringBuilder b = new StringBuilder();
    for (FlipDelays.Flip f : seen) {
      if (f != null) {
        b.append(f.line()).append('\n');
      }
    }
    BenchFiles.atomicWrite(file, b.toString());
  }
}
