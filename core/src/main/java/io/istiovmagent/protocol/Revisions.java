package io.istiovmagent.protocol;

import java.util.Locale;

/**
 * How a bundle revision is named on the wire: {@code sha256:HEX} in reports and status, {@code "HEX"} (quoted) as
 * the bundle's strong ETag, which the agent sends back in If-None-Match.
 */
public final class Revisions {
  private static final String PREFIX = "sha256:";

  private Revisions() {}

  /** The strong ETag a bundle of this revision is served with. */
  public static String etag(String revision) {
    return "\"" + hex(revision) + "\"";
  }

  /** True when both name the same revision, in whichever of the forms above each is written. */
  public static boolean same(String a, String b) {
    return hex(a).equals(hex(b));
  }

  private static String hex(String revision) {
    String r = revision.strip();
    if (r.startsWith("\"") && r.endsWith("\"") && r.length() >= 2) {
      r = r.substring(1, r.length() - 1);
    }
    if (r.startsWith(PREFIX)) {
      r = r.substring(PREFIX.length());
    }
    return r.toLowerCase(Locale.ROOT);
  }
}
