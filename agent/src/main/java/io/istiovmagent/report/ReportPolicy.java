package io.istiovmagent.report;

import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/** When a report is due. Pure: a change of what matters is due at once; otherwise a jittered heartbeat. */
final class ReportPolicy {
  /**
   * Heartbeats spread over [interval, interval × 1.2] so a fleet restarted together does not report in lockstep.
   * One-sided: a heartbeat never comes sooner than report.interval, so "at most one report per interval" holds for
   * every interval, not only on average (the mean is 1.1 × interval). The endpoint marks a VM stale after three
   * intervals of silence; the longest gap between delivered heartbeats is 1.2 intervals, so one lost report (2.4)
   * still leaves 0.6 of an interval before that.
   */
  static final double JITTER = 0.20;

  private ReportPolicy() {}

  /** What a report is about: a difference here is a change worth reporting within a second. Times are not. */
  public record Key(String health, List<String> reasons, SidecarState sidecarState, Boolean sidecarReady,
      boolean crashLoop, String revision, String lastError) {

    public static Key of(AgentStatus s) {
      return new Key(s.health().name(), s.reasons(), s.sidecar() == null ? null : s.sidecar().state(),
          s.sidecar() == null ? null : s.sidecar().ready(), s.sidecar() != null && s.sidecar().crashLoop(),
          s.bundle() == null ? null : s.bundle().revision(),
          s.lastError() == null ? null : s.lastError().message());
    }
  }

  public static boolean changed(Key lastDelivered, Key current) {
    return !Objects.equals(lastDelivered, current);
  }

  /** The next heartbeat delay: uniform in [interval, interval × 1.2], never less than the interval. */
  public static Duration heartbeat(Duration interval, RandomGenerator random) {
    long ms = interval.toMillis();
    long spread = (long) (ms * JITTER);
    return Duration.ofMillis(ms + (spread == 0 ? 0 : random.nextLong(spread + 1)));
  }
}
