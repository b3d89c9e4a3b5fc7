package io.istiovmagent.onboarding.mesh;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code key=value key="quoted value"} on one line (the logfmt of Go's and Heroku's logs): the message of the
 * service's own condition on a WorkloadEntry, readable in {@code kubectl describe} and parsed back by the fleet view.
 * Keys are lower-case words with dashes; a value is quoted when it holds anything but a plain token, with {@code \"},
 * {@code \\} and {@code \n} escaped. Pure.
 */
final class Logfmt {
  private static final Pattern KEY = Pattern.compile("[a-z][a-z0-9-]*");
  private static final Pattern BARE = Pattern.compile("[A-Za-z0-9._:/+@-]+");

  private Logfmt() {}

  static String format(Map<String, String> fields) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, String> e : fields.entrySet()) {
      if (!KEY.matcher(e.getKey()).matches()) {
        throw new IllegalArgumentException("not a logfmt key: " + e.getKey());
      }
      if (e.getValue() == null) {
        continue;
      }
      if (out.length() > 0) {
        out.append(' ');
      }
      out.append(e.getKey()).append('=');
      String v = e.getValue();
      if (BARE.matcher(v).matches()) {
        out.append(v);
      } else {
        out.append('"');
        for (int i = 0; i < v.length(); i++) {
          char c = v.charAt(i);
          switch (c) {
            case '"' -> out.append("\\\"");
            case '\\' -> out.append("\\\\");
            case '\n' -> out.append("\\n");
            default -> out.append(c);
          }
        }
        out.append('"');
      }
    }
    return out.toString();
  }

  /** The fields, in order; empty when {@code line} is not logfmt as {@link #format} writes it. */
  static Optional<Map<String, String>> parse(String line) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    int n = line.length();
    while (i < n) {
      if (line.charAt(i) == ' ') {
        i++;
        continue;
      }
      int eq = line.indexOf('=', i);
      if (eq < 0 || !KEY.matcher(line.substring(i, eq)).matches()) {
        return Optional.empty();
      }
      String key = line.substring(i, eq);
      i = eq + 1;
      StringBuilder v = new StringBuilder();
      if (i < n && line.charAt(i) == '"') {
        i++;
        boolean closed = false;
        while (i < n) {
          char c = line.charAt(i++);
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\' && i < n) {
            char e = line.charAt(i++);
            v.append(e == 'n' ? '\n' : e);
          } else {
            v.append(c);
          }
        }
        if (!closed) {
          return Optional.empty();
        }
      } else {
        while (i < n && line.charAt(i) != ' ') {
          v.append(line.charAt(i++));
        }
      }
      out.put(key, v.toString());
    }
    return Optional.of(out);
  }
}
