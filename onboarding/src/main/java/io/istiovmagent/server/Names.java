package io.istiovmagent.server;

import java.util.regex.Pattern;

/** Names from untrusted input: which may reach the disk (DNS labels), and how any is shown (printable, short). */
public final class Names {
  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern MACHINE_ID = Pattern.compile("[0-9a-f]{32}");
  static final int MAX_LENGTH = 63;

  private Names() {}

  /** True for a lower-case DNS label of at most 63 characters; never for "", ".", "..", "%2F" or anything with '/'. */
  public static boolean isDnsLabel(String s) {
    return s != null && !s.isEmpty() && s.length() <= MAX_LENGTH && LABEL.matcher(s).matches();
  }

  /** True for a machine id as /etc/machine-id holds it: 32 lower-case hexadecimal digits, nothing else. */
  public static boolean isMachineId(String s) {
    return s != null && MACHINE_ID.matcher(s).matches();
  }

  /** Untrusted text shortened and made printable for a log line or an error message. */
  public static String printable(String s, int max) {
    if (s == null) {
      return "null";
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      if (sb.length() >= max) {
        sb.append("...");
        break;
      }
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return sb.toString();
  }
}
