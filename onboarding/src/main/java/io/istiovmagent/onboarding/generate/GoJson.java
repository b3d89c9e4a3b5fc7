package io.istiovmagent.onboarding.generate;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * JSON as Go's encoding/json Marshal writes it, for the values istioctl puts into proxyMetadata
 * (ISTIO_METAJSON_LABELS, ISTIO_META_POD_PORTS): no spaces; map keys sorted byte by byte; in strings the quote and
 * the backslash escaped, backspace, form feed, newline, return and tab as their short escapes (Go 1.22 and later),
 * other control characters as six-character escapes in lower-case hex, and so are the HTML-sensitive less-than,
 * greater-than and ampersand and the separators U+2028 and U+2029.
 */
final class GoJson {
  private GoJson() {}

  /** A JSON object of string values, keys in Go's order. */
  static String object(Map<String, String> m) {
    List<String> keys = new ArrayList<>(m.keySet());
    keys.sort(GoStrings.ORDER);
    StringBuilder s = new StringBuilder("{");
    for (String k : keys) {
      if (s.length() > 1) {
        s.append(',');
      }
      string(s, k);
      s.append(':');
      string(s, m.get(k));
    }
    return s.append('}').toString();
  }

  /**
   * ISTIO_META_POD_PORTS: the group's ports as Istio's model.PodPort list, sorted by name (byte order), each
   * {@code {"name":...,"containerPort":...,"protocol":""}} (a WorkloadGroup's ports carry no protocol).
   */
  static String podPorts(Map<String, Integer> ports) {
    List<String> names = new ArrayList<>(ports.keySet());
    names.sort(GoStrings.ORDER);
    StringBuilder s = new StringBuilder("[");
    for (String name : names) {
      if (s.length() > 1) {
        s.append(',');
      }
      s.append("{\"name\":");
      string(s, name);
      s.append(",\"containerPort\":").append(ports.get(name)).append(",\"protocol\":\"\"}");
    }
    return s.append(']').toString();
  }

  /** A JSON string of {@code value}, quotes included. */
  static String string(String value) {
    StringBuilder s = new StringBuilder();
    string(s, value);
    return s.toString();
  }

  static void string(StringBuilder s, String value) {
    s.append('"');
    value.codePoints().forEach(c -> {
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\b' -> s.append("\\b");
        case '\f' -> s.append("\\f");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029) {
            s.append(String.format(Locale.ROOT, "\\u%04x", c));
          } else if (Character.isSurrogate((char) c) && c <= 0xFFFF) {
            s.append("\\ufffd"); // a lone surrogate is invalid UTF-8 to Go: the replacement character
          } else {
            s.appendCodePoint(c);
          }
        }
      }
    });
    s.append('"');
  }
}
