package io.istiovmagent.sidecar;

import java.util.Objects;

/** What the sidecar's readiness endpoint said: ready, or not ready and why. */
public sealed interface Readiness {

  /** The endpoint answered 200: Envoy has its configuration and is serving. */
  record Ready() implements Readiness {}

  /** Anything else: "HTTP 503", "connection refused", "timed out", ... */
  record NotReady(String reason) implements Readiness {
    public NotReady {
      Objects.requireNonNull(reason, "reason == null");
    }
  }

  Readiness READY = new Ready();

  default boolean ready() {
    return this instanceof Ready;
  }
}
