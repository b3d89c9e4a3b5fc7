package io.istiovmagent.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;
import java.util.Optional;

/**
 * The body of every error answer of protocol v1 (docs/protocol.md): {@code {"error": "<reason>"}}. The onboarding
 * service writes it; the agent reads it with {@link #reasonIn}, leniently, because the answer may come from any
 * server on the way.
 */
public record ErrorBody(String error) {

  /** The protocol's reason is a string: an answer that names none is a bug on the writing side. */
  public ErrorBody {
    Objects.requireNonNull(error, "error == null");
  }

  /** The reason in an error answer's body; empty when the body names none ({@code "error"} absent or null). */
  public static Optional<String> reasonIn(JsonNode body) {
    JsonNode error = body == null ? null : body.path("error");
    if (error == null || error.isMissingNode() || error.isNull()) {
      return Optional.empty();
    }
    return Optional.of(error.asText());
  }
}
