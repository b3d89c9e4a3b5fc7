package io.istiovmagent.util;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** This build's version (the Maven project's, filtered into version.properties), for --version and user agents. */
public final class BuildVersion {
  private BuildVersion() {}

  /** The version, or "unknown" when the resource is missing (classes run from an IDE without Maven's filtering). */
  public static String get() {
    try (InputStream in = BuildVersion.class.getResourceAsStream("/io/istiovmagent/version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }
}
