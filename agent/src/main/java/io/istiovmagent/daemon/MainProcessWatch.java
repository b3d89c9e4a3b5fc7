package io.istiovmagent.daemon;

import io.istiovmagent.daemon.SidecarPollPolicy.Watch;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.util.Log;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The sidecar's main process, watched for its exit ({@link ExitWatcher}): what {@link SidecarPollPolicy} needs to
 * know to ask systemd seldom while it runs and at once when it died. Loop thread only, except the exit itself.
 */
final class MainProcessWatch implements AutoCloseable {
  private final String unit;
  private final ExitWatcher exits;
  private final Log log;
  private volatile Runnable wake = () -> {};
  /**
   * Set by the exit watcher's thread: the PID that exited; 0 when none is pending. Taken with getAndSet: a read
   * then a separate write of 0 would lose an exit that lands between them, hiding the sidecar's death until the
   * safety look (60 s).
   */
  private final AtomicLong exitedPid = new AtomicLong();
  private Watch state = Watch.NONE;
  private long watchedPid;
  private long exitSeenPid;
  private Instant exitSeenAt;
  private boolean unwatchableLogged;

  MainProcessWatch(String unit, ExitWatcher exits, Log log) {
    this.unit = unit;
    this.exits = exits;
    this.log = log;
  }

  /** Called (on the exit watcher's thread) when the watched process exited. */
  void wakeWith(Runnable wake) {
    this.wake = wake;
  }

  /** What the policy goes by: an exit not yet taken counts as EXITED. */
  Watch watch() {
    return exitedPid.get() != 0 ? Watch.EXITED : state;
  }

  Instant exitSeenAt() {
    return exitSeenAt;
  }

  /** At a look: an exit of the watched process is taken (the look is for it). */
  void takeExit(Instant now) {
    long exited = exitedPid.getAndSet(0);
    if (exited != 0 && exited == watchedPid) {
      exitSeenPid = exited;
      exitSeenAt = now;
      watchedPid = 0;
      state = Watch.GONE;
    }
  }

  /** The unit is not running: nothing to watch. */
  void none() {
    state = Watch.NONE;
  }

  /** Watches the main process systemd named, unless it is already watched or its exit not yet handled by systemd. */
  void follow(long pid, Instant now) {
    if (state == Watch.GONE && pid == exitSeenPid) {
      return; // systemd has not handled that exit yet: the policy asks again shortly
    }
    if (state == Watch.WATCHING && pid == watchedPid) {
      return;
    }
    switch (exits.watch(pid, this::exited)) {
      case WATCHING -> {
        watchedPid = pid;
        state = Watch.WATCHING;
      }
      case GONE -> {
        watchedPid = 0;
        exitSeenPid = pid;
        exitSeenAt = now;
        state = Watch.GONE;
      }
      case UNSUPPORTED -> {
        watchedPid = 0;
        state = Watch.NONE;
        if (!unwatchableLogged) {
          unwatchableLogged = true;
          log.info("cannot watch " + unit + "'s main process for its exit ("
              + exits.unsupportedReason().orElse("unsupported") + "); asking systemd about it every second");
        }
      }
    }
  }

  /** On the exit watcher's thread. */
  private void exited(long pid) {
    exitedPid.set(pid);
    wake.run();
  }

  @Override
  public void close() {
    exits.close();
  }
}
