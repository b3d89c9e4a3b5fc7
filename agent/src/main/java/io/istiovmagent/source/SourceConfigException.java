package io.istiovmagent.source;

/** The source is named or configured wrongly (bad URL, plain http, unreadable CA or token file). */
public final class SourceConfigException extends Exception {
  public SourceConfigException(String message) {
    super(message);
  }

  public SourceConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
