package io.istiovmagent.daemon;

import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.Notifications;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.util.Optional;

/**
 * What the daemon tells the outside about itself: status.json, and systemd's READY=1, STATUS=, RELOADING=1,
 * STOPPING=1 and WATCHDOG=1. status.json first, then systemd: whoever reacts to READY=1 or a STATUS= line finds the
 * status to match. Each is sent when it changes, the watchdog ping on its own clock (monotonic: a wall clock that
 * jumps must not starve it).
 */
final class StatusPublisher {
  private final Notifier notifier;
  private final Optional<WatchdogSettings> watchdog;
  private final Log log;
  private StatusFile file;
  private AgentStatus lastWritten;
  private boolean readySent;
  private String lastLine;
  private long nextWatchdogNanos;

  StatusPublisher(Notifier notifier, Optional<WatchdogSettings> watchdog, Log log) {
    this.notifier = notifier;
    this.watchdog = watchdog;
    this.log = log;
  }

  /** Where status.json goes (paths.runDir); a new place is written at the next publish. */
  void writeTo(StatusFile file) {
    if (this.file != null && this.file.file().equals(file.file())) {
      return;
    }
    this.file = file;
    lastWritten = null;
  }

  boolean readySent() {
    return readySent;
  }

  /**
   * Writes {@code s} when it changed (the time aside), sends READY=1 the first time {@code ready} holds (logging
   * {@code readyNote}), and the STATUS= line when it changed.
   */
  void publish(AgentStatus s, boolean ready, String readyNote, String line) {
    if (lastWritten == null || !lastWritten.withoutTime().equals(s.withoutTime())) {
      if (write(s)) {
        lastWritten = s;
      }
    }
    if (!readySent && ready) {
      notifier.send(Notifications.ready());
      readySent = true;
      log.notice(readyNote);
    }
    if (!line.equals(lastLine)) {
      notifier.send(Notifications.status(line));
      lastLine = line;
    }
  }

  /** Writes {@code s}; returns whether it could. */
  boolean write(AgentStatus s) {
    try {
      file.write(s);
      return true;
    } catch (IOException e) {
      log.error("cannot write " + file.file() + ": " + e.getMessage());
      return false;
    }
  }

  /** RELOADING=1 ... READY=1 brackets a reload; before the first READY=1 there is no started state to reload. */
  void reloading() {
    if (readySent) {
      notifier.send(Notifications.reloading(Notifications.monotonicMicros()));
    }
  }

  void reloaded() {
    if (readySent) {
      notifier.send(Notifications.ready());
    }
  }

  void stopping() {
    notifier.send(Notifications.stopping());
  }

  /** WATCHDOG=1 when due. */
  void pingWatchdog() {
    if (watchdog.isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    if (now - nextWatchdogNanos >= 0) {
      notifier.send(Notifications.watchdog());
      nextWatchdogNanos = now + watchdog.get().pingEvery().toNanos();
    }
  }

  /** How long until the next ping is due; {@link Long#MAX_VALUE} without a watchdog. */
  long watchdogDueInMillis() {
    return watchdog.isEmpty() ? Long.MAX_VALUE : Math.max(0, (nextWatchdogNanos - System.nanoTime()) / 1_000_000);
  }
}
