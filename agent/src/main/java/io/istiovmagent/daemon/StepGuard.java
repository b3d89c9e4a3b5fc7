package io.istiovmagent.daemon;

import io.istiovmagent.bundle.Problem;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * Runs the steps of the daemon's loop so that a bug in one (a {@link RuntimeException}) ends neither the pass nor
 * the daemon: a daemon that exits is restarted by systemd into the same state and the same bug, a crash loop for as
 * long as the condition lasts. The failure is logged once (again only when it changes), kept for the status until
 * the step succeeds, and its recovery logged. An {@link Error} is not caught: the JVM itself is in trouble, and
 * systemd's restart is the cure.
 */
final class StepGuard {
  /** A step's current failure: what it threw (to tell a new failure from the same one again) and what to show. */
  private record Failure(Class<?> type, String message, StackTraceElement where, AgentStatus.LastError shown) {
    boolean same(RuntimeException e) {
      return type == e.getClass() && Objects.equals(message, e.getMessage()) && Objects.equals(where, top(e));
    }
  }

  private final Log log;
  private final Clock clock;
  /** Failing steps by name, in the order they started failing. */
  private final Map<String, Failure> failing = new LinkedHashMap<>();
  private boolean failedThisPass;

  StepGuard(Log log, Clock clock) {
    this.log = log;
    this.clock = clock;
  }

  /** Runs a step that says whether it did anything; a step that threw counts as having done something. */
  boolean run(String step, BooleanSupplier body) {
    try {
      boolean did = body.getAsBoolean();
      return succeeded(step) || did;
    } catch (RuntimeException e) {
      failed(step, e);
      return true;
    }
  }

  void run(String step, Runnable body) {
    run(step, () -> {
      body.run();
      return false;
    });
  }

  /** Whether a step failed since the last call: the loop then waits a tick rather than run into it again at once. */
  boolean takeFailedThisPass() {
    boolean f = failedThisPass;
    failedThisPass = false;
    return f;
  }

  /** The failure to show in the status (the earliest of those still failing); null when none is. */
  AgentStatus.LastError current() {
    return failing.isEmpty() ? null : failing.values().iterator().next().shown();
  }

  /** Returns whether the step had been failing (the status changes). */
  private boolean succeeded(String step) {
    if (failing.remove(step) != null) {
      log.notice(step + " works again");
      return true;
    }
    return false;
  }

  private void failed(String step, RuntimeException e) {
    failedThisPass = true;
    Failure before = failing.get(step);
    if (before != null && before.same(e)) {
      return;
    }
    String what = describe(e);
    StackTraceElement where = top(e);
    AgentStatus.LastError shown = new AgentStatus.LastError(clock.instant(), "internal error: " + what + " (in "
        + step + "; the agent goes on, please report this bug)");
    failing.put(step, new Failure(e.getClass(), e.getMessage(), where, shown));
    log.error("internal error in " + step + ": " + what + (where == null ? "" : " at " + where)
        + "; the agent goes on and logs this again only if it changes");
  }

  /**
   * The exception's type and message, on one short line: they name the bug, and neither carries a token (no step
   * puts file content in an exception); the frame logged with it says where, without a stack trace in the journal.
   */
  static String describe(RuntimeException e) {
    return Problem.oneLine(e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()),
        Problem.MAX_MESSAGE);
  }

  private static StackTraceElement top(Throwable e) {
    StackTraceElement[] trace = e.getStackTrace();
    return trace.length == 0 ? null : trace[0];
  }
}
