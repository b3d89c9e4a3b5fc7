package io.istiovmagent.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/**
 * The 200 answer to a health report (docs/protocol.md): {@code {"accepted": true, "hints": {...}}}. The onboarding
 * service writes it; the agent reads it with {@link #hintIn}, leniently, because any 2xx from any sink delivers a
 * report and its body may be anything.
 */
public record ReportAnswer(boolean accepted, Hints hints) {

  /** Hints for the agent; an absent hint is left out, not written as null. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Hints(Boolean fetchBundleNow) {}

  /** What an answer asks of the agent. */
  public enum Hint {
    /** {@code "fetchBundleNow": true}: the group has another bundle than the report named; fetch it now. */
    FETCH_NOW,
    /** {@code "fetchBundleNow": false}: the revision the report named is the group's current one, a check. */
    CONFIRMED,
    /** No hint, or one the agent does not act on. */
    NONE
  }

  /** An accepted report, with the fetch hint when the service knows the group's bundle. */
  public static ReportAnswer accepted(Optional<Boolean> fetchBundleNow) {
    return new ReportAnswer(true, new Hints(fetchBundleNow.orElse(null)));
  }

  /**
   * The hint in an answer's body ({@code null} for none). A fetch is asked for by anything Jackson reads as true
   * (true, a non-zero number, "true"), as agents always read it; a confirmation only by a JSON {@code false}: null,
   * 0 or "false" (a string) confirm nothing, since a confirmation postpones the agent's own refresh.
   */
  public static Hint hintIn(JsonNode body) {
    if (body == null) {
      return Hint.NONE;
    }
    JsonNode fetch = body.path("hints").path("fetchBundleNow");
    if (fetch.asBoolean(false)) {
      return Hint.FETCH_NOW;
    }
    return fetch.isBoolean() ? Hint.CONFIRMED : Hint.NONE;
  }
}
