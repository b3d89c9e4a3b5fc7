package io.istiovmagent.config;

/** The configuration cannot be used; the message names the file, the key and the reason. */
public final class ConfigException extends Exception {
  public ConfigException(String message) {
    super(message);
  }
}
