package io.istiovmagent.server;

/** The onboarding endpoint cannot start as configured; the message names the file or option and what to do. */
public final class ServerConfigException extends Exception {
  public ServerConfigException(String message) {
    super(message);
  }

  public ServerConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
