package io.istiovmagent.metrics;

import java.time.Duration;
import java.time.Instant;

/**
 * When to write the metrics file: when what it says changed, at most once per interval (a fleet's disks must not
 * be written every second), and every {@link #REWRITE_UNCHANGED} even when nothing changed, so that
 * node-exporter's {@code node_textfile_mtime_seconds} tells a live agent from a dead one. Pure.
 */
final class WritePolicy {
  /** An unchanged file is rewritten this often (or every interval, if longer), to keep its mtime fresh. */
  static final Duration REWRITE_UNCHANGED = Duration.ofMinutes(5);

  private WritePolicy() {}

  /**
   * @param lastAttempt the last write tried (failed or not), null for none: failures wait for the interval too
   * @param written what the last successful write wrote, null for none
   * @param writtenAt when that was
   */
  static boolean due(Instant now, Instant lastAttempt, String written, Instant writtenAt, String content,
      Duration interval) {
    if (lastAttempt == null || now.isBefore(lastAttempt)) {
      return true; // the first, or a clock stepped back: waiting for it to catch up could take hours
    }
    if (now.isBefore(lastAttempt.plus(interval))) {
      return false;
    }
    if (written == null || !written.equals(content)) {
      return true;
    }
    Duration refresh = interval.compareTo(REWRITE_UNCHANGED) > 0 ? interval : REWRITE_UNCHANGED;
    return !now.isBefore(writtenAt.plus(refresh));
  }
}
