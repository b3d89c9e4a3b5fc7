package io.istiovmagent.daemon;

import io.istiovmagent.sidecar.Readiness;
import io.istiovmagent.sidecar.ServiceState;
import java.time.Duration;
import java.time.Instant;

/**
 * When the supervisor asks systemd about istio.service again ({@code systemctl show}, a fork each time) and when it
 * probes Envoy's readiness: a pure function of what it saw, when, and whether the sidecar's main process is watched
 * for its exit. Time comes with each call, as in {@link io.istiovmagent.sidecar.CrashLoopDetector}.
 *
 * <p>The sidecar's death must reach the control plane within a second. While its main process is watched (a pidfd:
 * the exit wakes the agent at once), systemd is asked only every {@link #SAFETY} for what is not a death (a unit
 * enabled or disabled by hand; a stop or restart by hand kills the main process, so it is seen at once). Every
 * other time, the agent looks every {@link #FAST} as before: while the sidecar is not running (to see it come back),
 * when its process cannot be watched, or after a failed look.
 */
final class SidecarPollPolicy {
  /** Not running, not watchable, or the last look failed: the cadence the agent always had. */
  public static final Duration FAST = Duration.ofSeconds(1);
  /**
   * Running and watched: changes that do not end the main process (`systemctl disable`, a unit edited). Each look
   * spawns `systemctl show` and has systemd answer it, the largest idle cost left with the sidecar managed (P2).
   */
  public static final Duration SAFETY = Duration.ofSeconds(60);
  /** The main process exited but systemd still names it: systemd has not handled the exit yet; ask again soon. */
  public static final Duration CATCH_UP = Duration.ofMillis(100);
  /** How long after an exit the agent asks every {@link #CATCH_UP}; then every {@link #FAST}. */
  public static final Duration CATCH_UP_WINDOW = Duration.ofSeconds(2);
  /**
   * Envoy said ready: ask again this often. A readiness change is not the death the one-second target is about (a
   * dead Envoy wakes the agent through the exit watcher), and each probe is a new loopback connection: at 5 s the
   * probes were most of the agent's idle CPU with the sidecar managed (P2, docs/performance.md).
   */
  public static final Duration PROBE_STEADY = Duration.ofSeconds(15);
  /** Envoy not ready yet, or no answer: ask every second, so that "ready" is seen and reported promptly. */
  public static final Duration PROBE_UNSETTLED = Duration.ofSeconds(1);

  /** What the supervisor knows about the main process named in the last look. */
  public enum Watch {
    /** Not watched: no process to watch (not running), or watching is not possible here. */
    NONE,
    /** Watched: its exit will wake the agent. */
    WATCHING,
    /** The watched process has exited since the last look. */
    EXITED,
    /** The process systemd names has exited (systemd has not caught up yet), or had already when it was seen. */
    GONE
  }

  private SidecarPollPolicy() {}

  /**
   * When to look at the unit next; {@link Instant#MIN} means at once.
   *
   * @param lastLook the last look, null if there was none yet
   * @param state what that look saw; null when it failed
   * @param watch the main process's watch, as of now
   * @param exitSeenAt when the agent learnt that the process it saw last had exited (for {@link Watch#GONE})
   * @param asked an action is pending (start, restart) or the service manager signalled a change
   */
  public static Instant nextLook(Instant lastLook, ServiceState state, Watch watch, Instant exitSeenAt,
      boolean asked) {
    if (lastLook == null || asked || watch == Watch.EXITED) {
      return Instant.MIN;
    }
    if (state == null) {
      return lastLook.plus(FAST);
    }
    if (!state.installed()) {
      // Steady until someone installs istio-sidecar; a pending start is made then (asked, above, is for a start
      // made possible by a new bundle).
      return lastLook.plus(SAFETY);
    }
    if (!state.running()) {
      return lastLook.plus(FAST);
    }
    return switch (watch) {
      case WATCHING -> lastLook.plus(SAFETY);
      case GONE -> exitSeenAt != null && lastLook.isBefore(exitSeenAt.plus(CATCH_UP_WINDOW))
          ? lastLook.plus(CATCH_UP) : lastLook.plus(FAST);
      default -> lastLook.plus(FAST);
    };
  }

  /**
   * When to probe Envoy next, while the sidecar runs; {@link Instant#MIN} means at once.
   *
   * @param lastProbe the last probe of the current main process, null if there was none
   * @param readiness what it said
   */
  public static Instant nextProbe(Instant lastProbe, Readiness readiness) {
    if (lastProbe == null || readiness == null) {
      return Instant.MIN;
    }
    return lastProbe.plus(readiness.ready() ? PROBE_STEADY : PROBE_UNSETTLED);
  }
}
