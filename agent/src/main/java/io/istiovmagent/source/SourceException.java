package io.istiovmagent.source;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/** The bundle could not be obtained. The message says why and what to check; it never holds a credential. */
public final class SourceException extends Exception {
  /** Why: callers decide retry behaviour from this, not from the message. */
  public enum Kind {
    /** No connection, DNS failure, timeout, reset, missing local path. */
    UNREACHABLE,
    /** HTTP 401 or 403: the join token is missing, wrong or expired. Not worth retrying hot. */
    CREDENTIAL_REJECTED,
    /** HTTP 404: the URL names no bundle (wrong namespace or workload group?). */
    NOT_FOUND,
    /** HTTP 429, 5xx: the source says try later. */
    UNAVAILABLE,
    /** TLS could not be established safely: untrusted CA, expired certificate, hostname mismatch. */
    TLS,
    /** The server answered in a way we do not follow (redirect to http://, unexpected status). */
    PROTOCOL
  }

  private final Kind kind;
  private final Duration retryAfter;

  public SourceException(Kind kind, String message) {
    this(kind, message, null, null);
  }

  public SourceException(Kind kind, String message, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.kind = Objects.requireNonNull(kind, "kind == null");
    this.retryAfter = retryAfter;
  }

  public Kind kind() {
    return kind;
  }

  /** The server's Retry-After, when it sent one. */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
