package io.istiovmagent.systemd;

import io.istiovmagent.util.Log;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A notifier whose failures are logged: a WATCHDOG=1 that never arrives ends in SIGABRT from systemd, and without a
 * line in the journal nobody can tell why. A failure is logged once, with its errno, until it changes (another errno)
 * or a send succeeds again, which is logged too: a ping every few seconds must not flood the journal.
 */
public final class LoggingNotifier implements Notifier {
  /** What a failure is told apart by: the errno, or -1 for one that is not a system call's. */
  private static final int NOT_A_SYSTEM_CALL = -1;

  private final Notifier delegate;
  private final Log log;
  /** The failure logged last; null while sends succeed. */
  private Integer failing;

  public LoggingNotifier(Notifier delegate, Log log) {
    this.delegate = Objects.requireNonNull(delegate, "delegate == null");
    this.log = Objects.requireNonNull(log, "log == null");
  }

  @Override
  public boolean enabled() {
    return delegate.enabled();
  }

  @Override
  public synchronized boolean send(String state) {
    boolean sent = delegate.send(state);
    if (sent) {
      if (failing != null) {
        failing = null;
        log.notice("notifying systemd works again");
      }
      return true;
    }
    OptionalInt errno = delegate.lastErrno();
    int kind = errno.orElse(NOT_A_SYSTEM_CALL);
    if (failing == null || failing != kind) {
      failing = kind;
      // Only the message's name: a STATUS= line is long, and the name says which promise to systemd is not kept.
      log.error("cannot send " + name(state) + " to systemd" + (errno.isPresent() ? " (errno " + errno.getAsInt()
          + ")" : "") + ": " + delegate.lastError().orElse("unknown failure")
          + "; with WatchdogSec= systemd kills the agent when pings stop arriving (logged again only if this changes)");
    }
    return false;
  }

  private static String name(String state) {
    String first = state == null ? "" : state.lines().findFirst().orElse("");
    int eq = first.indexOf('=');
    return eq < 0 ? "a notification" : first.substring(0, eq) + (first.equals("WATCHDOG=1") || first.equals("READY=1")
        ? "=1" : "=");
  }

  @Override
  public Optional<String> lastError() {
    return delegate.lastError();
  }

  @Override
  public OptionalInt lastErrno() {
    return delegate.lastErrno();
  }

  @Override
  public String toString() {
    return delegate.toString();
  }
}
