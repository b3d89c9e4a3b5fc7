package io.istiovmagent.report;

import io.istiovmagent.status.AgentStatus;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/** When a report is due. Pure: a change of what matters is due at once; otherwise a jittered heartbeat. */
public final class ReportPolicy {
  /** Heartbeats spread ±10 % so a fleet restarted together does not report in lockstep. */
  static final double JITTER = 0.10;

  private ReportPolicy() {}

  /** What a report is about: a difference here is a change worth reporting within a second. Times are not. */
  public record Key(String health, List<String> reasons, String sidecarState, Boolean sidecarReady,
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

  /** The next heartbeat delay: interval × (1 ± 10 %). */
  public static Duration heartbeat(Duration interval, RandomGenerator random) {
    long ms = interval.toMillis();
    long spread = (long) (ms * JITTER);
    return Duration.ofMillis(ms - spread + (spread == 0 ? 0 : random.nextLong(2 * spread + 1)));
  }
}
