package io.istiovmagent.server;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** One HTTP response as an endpoint decides it; {@link Router} writes it. A null body sends no body at all. */
record Response(int status, Map<String, String> headers, byte[] body) {
  static final String JSON = "application/json";

  Response {
    Objects.requireNonNull(headers, "headers == null");
    headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
  }

  static Response json(int status, Object value) {
    // Reports and VM lists describe live state; no proxy or client should keep them.
    return new Response(status, Map.of("Content-Type", JSON, "Cache-Control", "no-store"), Json.bytes(value));
  }

  /** 204: done, nothing to say. */
  static Response noContent() {
    return new Response(204, Map.of("Cache-Control", "no-store"), null);
  }

  /** Every error is {@code {"error": "..."}}, short and saying what to do; never a stack trace. */
  static Response error(int status, String message) {
    return new Response(status, Map.of("Content-Type", JSON, "Cache-Control", "no-store"), Json.error(message));
  }

  /** 503 with Retry-After, the answer the agent backs off on. */
  static Response unavailable(String message, long retryAfterSeconds) {
    return error(503, message).with("Retry-After", Long.toString(retryAfterSeconds));
  }

  Response with(String header, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(header, value);
    return new Response(status, h, body);
  }
}
