package io.istiovmagent.fs;

import java.io.IOException;

/** A path the agent refuses to write through as root: a symbolic link someone other than root may have made. */
public final class UnsafePathException extends IOException {
  public UnsafePathException(String message) {
    super(message);
  }
}
