package io.istiovmagent.sidecar;

import io.istiovmagent.util.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.Optional;

/**
 * Decides from successive observations of a unit whether it is crash-looping: {@code threshold} or more starts
 * within {@code window}. Once on, the verdict holds until the unit has run with one main process for a whole
 * window, so a unit that crashed and then stayed down is still reported. Pure: time comes with each observation.
 */
public final class CrashLoopDetector {
  public static final int DEFAULT_THRESHOLD = 3;
  public static final Duration DEFAULT_WINDOW = Duration.ofMinutes(5);

  /** What the observations so far add up to. */
  public record Verdict(boolean crashLooping, long startsInWindow, Duration window) {
    /** For logs and reports: "4 starts in the last 5m". */
    public String describe() {
      return startsInWindow + (startsInWindow == 1 ? " start" : " starts") + " in the last "
          + Durations.human(window);
    }
  }

  private final int threshold;
  private final Duration window;
  /** Starts seen, oldest first; one entry per observation that saw any, so its size is bounded by the polling. */
  private final Deque<Starts> starts = new ArrayDeque<>();
  private long startsInWindow;
  private Instant last;
  private long lastPid;
  private long lastRestarts;
  /** systemd counted a restart whose main process has not been seen yet; that PID is not another start. */
  private boolean restartAwaitingPid;
  private Instant stableSince;
  private long stablePid;
  private boolean looping;

  private record Starts(Instant at, long count) {}

  public CrashLoopDetector() {
    this(DEFAULT_THRESHOLD, DEFAULT_WINDOW);
  }

  public CrashLoopDetector(int threshold, Duration window) {
    if (threshold < 1) {
      throw new IllegalArgumentException("threshold must be at least 1: " + threshold);
    }
    Objects.requireNonNull(window, "window == null");
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("window must be positive: " + window);
    }
    this.threshold = threshold;
    this.window = window;
  }

  /** Takes the unit's state as seen at {@code at} and returns the verdict as of then. */
  public Verdict observe(ServiceState state, Instant at) {
    Objects.requireNonNull(state, "state == null");
    Objects.requireNonNull(at, "at == null");
    // Time never runs backwards here, whatever the wall clock does: starts stay in time order, which pruning from
    // the front relies on. Callers should pass a monotonic clock's time; a stepped wall clock stretches windows.
    Instant now = last != null && at.isBefore(last) ? last : at;
    if (last == null) {
      // The first look is a baseline: starts before the agent was watching cannot be dated.
      lastPid = state.mainPid();
      lastRestarts = state.nRestarts();
    } else {
      countStarts(state, now);
    }
    last = now;
    trackStability(state, now);
    while (!starts.isEmpty() && starts.peekFirst().at().isBefore(now.minus(window))) {
      startsInWindow -= starts.pollFirst().count();
    }
    if (startsInWindow >= threshold) {
      looping = true;
    } else if (looping && stableSince != null && !now.isBefore(stableSince.plus(window))) {
      looping = false;
    }
    return verdict();
  }

  /** The verdict as of the last observation. */
  public Verdict verdict() {
    return new Verdict(looping, startsInWindow, window);
  }

  /** When the current main process was first seen running, if it is running. */
  public Optional<Instant> stableSince() {
    return Optional.ofNullable(stableSince);
  }

  private void countStarts(ServiceState state, Instant now) {
    // NRestarts only grows, except that systemd resets it on a manual start; that start shows as a new PID.
    long byCounter = Math.max(0, state.nRestarts() - lastRestarts);
    boolean newPid = state.mainPid() != 0 && state.mainPid() != lastPid;
    long count = byCounter;
    if (newPid && byCounter == 0 && !restartAwaitingPid) {
      count = 1;
    }
    if (newPid) {
      restartAwaitingPid = false;
    } else if (byCounter > 0) {
      restartAwaitingPid = true;
    }
    // Between two looks the unit may have restarted many times; they cannot be dated more precisely than now.
    if (count > 0) {
      starts.addLast(new Starts(now, count));
      startsInWindow += count;
    }
    if (state.mainPid() != 0) {
      lastPid = state.mainPid();
    }
    lastRestarts = state.nRestarts();
  }

  private void trackStability(ServiceState state, Instant now) {
    if (!state.running()) {
      stableSince = null;
    } else if (stableSince == null || state.mainPid() != stablePid) {
      stableSince = now;
      stablePid = state.mainPid();
    }
  }
}
