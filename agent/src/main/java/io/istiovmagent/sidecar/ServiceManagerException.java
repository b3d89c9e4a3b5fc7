package io.istiovmagent.sidecar;

import java.util.Objects;

/** A service-manager call that did not do what was asked; the message says what failed and what to do next. */
public final class ServiceManagerException extends Exception {
  /** Why the call failed, for the caller's decision: report and carry on, retry later, or stop supervising. */
  public enum Kind {
    /** There is no systemd to talk to (a container, a test root, no systemctl binary); retrying will not help. */
    UNAVAILABLE,
    /** systemctl did not finish within its time limit and was killed; worth retrying later. */
    TIMED_OUT,
    /** systemctl ran and reported a failure, or could not be run, or printed something unreadable. */
    FAILED
  }

  private final Kind kind;

  public ServiceManagerException(Kind kind, String message) {
    this(kind, message, null);
  }

  public ServiceManagerException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = Objects.requireNonNull(kind, "kind == null");
  }

  public Kind kind() {
    return kind;
  }
}
