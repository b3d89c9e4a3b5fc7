package io.istiovmagent.verify;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/** One line of the bundle's hosts file: an address and the istiod names it serves. */
public record HostsEntry(String address, List<String> names) {
  private static final String FILE = "hosts";
  private static final Pattern ISTIOD = Pattern.compile(
      "istiod(-[a-z0-9]([-a-z0-9]*[a-z0-9])?)?\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.svc(\\.cluster\\.local)?");
  private static final Pattern IPV4 = Pattern.compile(
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
  /**
   * What InetAddress parses as an IPv6 literal without asking the resolver: it starts with a hex digit or ':' (a
   * field such as ".:" would otherwise go to DNS, found by fuzzing) and contains a ':' (checked with it).
   */
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9a-fA-F:][0-9a-fA-F:.]*");

  /** The line as it goes into /etc/hosts. */
  public String line() {
    return address + " " + String.join(" ", names);
  }

  /** True for names the hosts policy accepts without configuration. */
  public static boolean isIstiodName(String name) {
    return ISTIOD.matcher(name).matches();
  }

  /**
   * Parses {@code IP name...} lines. An empty file is valid: Istio writes it empty when the east-west gateway has
   * only a DNS name. Records problems; returns null if there was any.
   */
  static List<HostsEntry> parse(byte[] bytes, Set<String> allowedNames, Problems problems) {
    String text = problems.text(FILE, bytes);
    if (text == null) {
      return null;
    }
    int before = problems.errorCount();
    List<HostsEntry> out = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String where = FILE + ":" + (i + 1);
      String line = lines[i];
      int hash = line.indexOf('#');
      if (hash >= 0) {
        line = line.substring(0, hash);
      }
      String[] fields = line.strip().split("[ \t]+");
      if (fields.length == 1 && fields[0].isEmpty()) {
        continue;
      }
      if (fields.length < 2) {
        problems.error(where, "hosts-syntax", "is not 'ADDRESS NAME...'");
        continue;
      }
      String address = checkAddress(where, fields[0], problems);
      List<String> names = new ArrayList<>();
      for (int f = 1; f < fields.length; f++) {
        String name = fields[f].toLowerCase(Locale.ROOT);
        if (name.equals("localhost") || name.endsWith(".localhost") || name.startsWith("localhost.")) {
          problems.error(where, "hosts-localhost", "maps '" + printable(fields[f]) + "'; the bundle may never "
              + "remap localhost");
        } else if (!isIstiodName(name) && !allowedNames.contains(name)) {
          problems.error(where, "hosts-name", "maps '" + printable(fields[f]) + "', which is not an istiod name "
              + "(istiod[-REV].NAMESPACE.svc); to allow it, add it to hosts.allowedNames in the config");
        } else {
          names.add(name);
        }
      }
      if (address != null && names.size() == fields.length - 1) {
        out.add(new HostsEntry(address, List.copyOf(names)));
      }
    }
    return problems.errorCount() == before ? out : null;
  }

  /** Accepts literal IPv4 (no leading zeros, which some resolvers read as octal) and IPv6; never resolves. */
  private static String checkAddress(String where, String field, Problems problems) {
    InetAddress a = null;
    if (IPV4.matcher(field).matches() || field.indexOf(':') >= 0 && IPV6_CHARS.matcher(field).matches()) {
      try {
        a = InetAddress.getByName(field);
      } catch (UnknownHostException e) {
        a = null;
      }
    }
    if (a == null) {
      problems.error(where, "hosts-address", "'" + printable(field) + "' is not an IPv4 or IPv6 address");
      return null;
    }
    if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isMulticastAddress()) {
      problems.error(where, "hosts-address", "'" + field + "' is a loopback, unspecified or multicast address; "
          + "istiod must be reached at the east-west gateway's address");
      return null;
    }
    return field.toLowerCase(Locale.ROOT);
  }

  private static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length() && sb.length() < 80; i++) {
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return sb.toString();
  }
}
