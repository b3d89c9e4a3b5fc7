package io.istiovmagent.daemon;

import java.time.Duration;
import java.time.Instant;

/** How long the daemon's loop may wait for an event before its next pass: a pure decision of what the parts ask. */
final class LoopWait {
  private LoopWait() {}

  /**
   * A tick at most; sooner when the next fetch is due ({@code nextFetch}, null: none scheduled or one under way),
   * when the watchdog must be pinged, or while the sidecar's supervisor catches up with an exit it was woken for
   * ({@code sidecarDue}, null: no bundle, so no sidecar to look after). Never negative.
   */
  static long millis(Instant now, Duration tick, Instant nextFetch, long watchdogDueMillis, Instant sidecarDue) {
    long wait = tick.toMillis();
    if (nextFetch != null) {
      wait = Math.min(wait, Math.max(0, Duration.between(now, nextFetch).toMillis()));
    }
    wait = Math.min(wait, Math.max(0, watchdogDueMillis));
    if (sidecarDue != null && sidecarDue.isBefore(now.plus(tick))) {
      wait = Math.min(wait, sidecarDue.isAfter(now) ? Duration.between(now, sidecarDue).toMillis() : 0);
    }
    return wait;
  }

  /**
   * After a step of the pass failed: a tick at least (so that a bug is not run into in a hot loop), unless the
   * watchdog must be pinged sooner.
   */
  static long afterAFailedStep(long wait, Duration tick, long watchdogDueMillis) {
    return Math.max(wait, Math.min(tick.toMillis(), Math.max(0, watchdogDueMillis)));
  }
}
