package io.istiovmagent.retry;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.source.SourceException;
import java.util.Objects;

/** Why a fetch failed, as far as retrying is concerned: only TRANSIENT is retried soon. */
public enum FailureClass {
  /** Unreachable, timed out, HTTP 429 or 5xx: likely to pass by itself, so retried with growing jittered delays. */
  TRANSIENT,
  /** HTTP 401 or 403: the join token is missing, wrong or expired; a person or a new token must act. */
  CREDENTIAL_REJECTED,
  /** HTTP 404: the URL names no bundle (wrong namespace or workload group). */
  NOT_FOUND,
  /**
   * TLS was refused (untrusted CA, expired or mismatched certificate) or the server answered in a way the agent does
   * not follow (a redirect to http://, an unexpected status): the trust configuration or the server needs fixing.
   */
  MISCONFIGURED,
  /** The bundle arrived but verification refused it; the same bundle will be refused again until someone fixes it. */
  BAD_BUNDLE;

  /** True for the one class worth retrying within seconds; the others wait close to the backoff cap. */
  public boolean retriedSoon() {
    return this == TRANSIENT;
  }

  public static FailureClass of(SourceException.Kind kind) {
    Objects.requireNonNull(kind, "kind == null");
    return switch (kind) {
      case UNREACHABLE, UNAVAILABLE -> TRANSIENT;
      case CREDENTIAL_REJECTED -> CREDENTIAL_REJECTED;
      case NOT_FOUND -> NOT_FOUND;
      // A TLS failure is usually a trust or certificate problem, which does not clear in seconds; a flaky handshake
      // that would have is retried a few minutes later instead, well inside the token's half-life margin.
      case TLS, PROTOCOL -> MISCONFIGURED;
    };
  }

  public static FailureClass of(SourceException e) {
    return of(Objects.requireNonNull(e, "e == null").kind());
  }

  /** The bundle was received (from any source, including an archive that does not parse) and refused. */
  public static FailureClass of(BadBundleException e) {
    Objects.requireNonNull(e, "e == null");
    return BAD_BUNDLE;
  }
}
