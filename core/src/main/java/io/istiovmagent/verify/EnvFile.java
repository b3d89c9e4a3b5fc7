package io.istiovmagent.verify;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A shell environment file (cluster.env, sidecar.env) that istio-start.sh sources with bash, as root. Only plain
 * {@code KEY=VALUE} assignments are accepted: single-quoted values, or unquoted values from a safe character set,
 * so nothing in the file can expand or execute. What gets installed is a canonical re-serialisation of the parsed
 * values, never the bytes received.
 */
public final class EnvFile {
  private static final Pattern KEY = Pattern.compile("[A-Z_][A-Z0-9_]*");
  /** Variables that change how the shell or the dynamic loader runs every later command. */
  private static final Set<String> DANGEROUS_KEYS = Set.of("PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS",
      "BASHOPTS", "PS4", "PROMPT_COMMAND", "GLOBIGNORE", "CDPATH", "HOME", "SHELL", "POSIXLY_CORRECT");
  private static final String HEADER = "# Written by istio-vm-agent from the bundle; local edits are overwritten.\n";

  private final Map<String, String> values;

  private EnvFile(Map<String, String> values) {
    this.values = Collections.unmodifiableMap(values);
  }

  public Map<String, String> values() {
    return values;
  }

  public String get(String key) {
    return values.get(key);
  }

  /** A non-empty value, or null. */
  public String nonEmpty(String key) {
    String v = values.get(key);
    return v == null || v.isEmpty() ? null : v;
  }

  /** One {@code KEY='value'} line a key, in the order received; a quote inside a value is written {@code '\''}. */
  public byte[] canonicalBytes() {
    StringBuilder sb = new StringBuilder(HEADER);
    values.forEach((k, v) -> sb.append(k).append("='").append(v.replace("'", "'\\''")).append("'\n"));
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Parses and checks; records every problem found and returns null if there was any. */
  static EnvFile parse(String file, byte[] bytes, Problems problems) {
    String text = problems.text(file, bytes);
    if (text == null) {
      return null;
    }
    int before = problems.errorCount();
    Map<String, String> values = new LinkedHashMap<>();
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String where = file + ":" + (i + 1);
      String line = lines[i];
      if (line.indexOf('\r') >= 0) {
        problems.error(where, "env-syntax", "has a carriage return (CRLF line endings?); bash would keep it in the "
            + "value: convert the file to LF line endings");
        continue;
      }
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      int eq = trimmed.indexOf('=');
      String key = eq < 0 ? trimmed : trimmed.substring(0, eq);
      if (eq <= 0 || !KEY.matcher(key).matches()) {
        problems.error(where, "env-syntax", "is not a KEY=VALUE assignment with KEY of A-Z, 0-9 and _ "
            + "(commands, 'export' and other shell syntax are refused)");
        continue;
      }
      String shownKey = Problems.shown(key, 64); // a key may be 256 KiB long
      if (DANGEROUS_KEYS.contains(key) || key.startsWith("LD_") || key.startsWith("BASH_")) {
        problems.error(where, "env-dangerous-key", "sets " + shownKey + ", which changes how the shell or loader "
            + "runs every later command as root; remove it from proxyMetadata");
        continue;
      }
      String value = parseValue(where, shownKey, trimmed.substring(eq + 1), problems);
      if (value == null) {
        continue;
      }
      if (values.containsKey(key)) {
        problems.error(where, "env-duplicate-key", shownKey + " is set more than once");
        continue;
      }
      values.put(key, value);
    }
    return problems.errorCount() == before ? new EnvFile(values) : null;
  }

  /**
   * Reads a value made of segments: 'single-quoted', the quote idioms \' and "'", and unquoted safe characters.
   * Trailing whitespace may be followed by a comment. Returns null after recording a problem. {@code key} is only
   * for messages.
   */
  private static String parseValue(String where, String key, String raw, Problems problems) {
    StringBuilder value = new StringBuilder();
    int i = 0;
    while (i < raw.length()) {
      char c = raw.charAt(i);
      if (c == '\'') {
        int close = raw.indexOf('\'', i + 1);
        if (close < 0) {
          problems.error(where, "env-quote", "the value of " + key + " has an unbalanced single quote");
          return null;
        }
        value.append(raw, i + 1, close);
        i = close + 1;
      } else if (raw.startsWith("\\'", i)) {
        value.append('\'');
        i += 2;
      } else if (raw.startsWith("\"'\"", i)) {
        value.append('\'');
        i += 3;
      } else if (isSafeUnquoted(c)) {
        value.append(c);
        i++;
      } else if (c == ' ' || c == '\t') {
        String rest = raw.substring(i).strip();
        if (!rest.isEmpty() && !rest.startsWith("#")) {
          problems.error(where, "env-unquoted-space", "the value of " + key + " has an unquoted space; bash would "
              + "run the rest of the line as a command. Quote the value: " + key + "='...'");
          return null;
        }
        break;
      } else {
        problems.error(where, ruleFor(c), describe(key, c));
        return null;
      }
    }
    String v = value.toString();
    for (int j = 0; j < v.length(); j++) {
      char c = v.charAt(j);
      if (c == '$' || c == '`' || c == ';' || c < 0x20 && c != '\t' || c == 0x7f) {
        problems.error(where, ruleFor(c), describe(key, c) + " (refused even inside quotes, so that no edit of the "
            + "quoting can turn it into code)");
        return null;
      }
    }
    return v;
  }

  private static boolean isSafeUnquoted(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
        || "@%+=:,./_-".indexOf(c) >= 0;
  }

  private static String ruleFor(char c) {
    return switch (c) {
      case '$', '`' -> "env-expansion";
      case ';', '|', '&', '<', '>', '(', ')', '{', '}' -> "env-metachar";
      case '"' -> "env-quote";
      default -> "env-unsafe-char";
    };
  }

  private static String describe(String key, char c) {
    String shown = c < 0x20 || c == 0x7f ? String.format("U+%04X", (int) c) : "'" + c + "'";
    return switch (ruleFor(c)) {
      case "env-expansion" -> "the value of " + key + " contains " + shown + ", which bash would expand or execute";
      case "env-metachar" -> "the value of " + key + " contains " + shown + ", a shell command separator or operator";
      case "env-quote" -> "the value of " + key + " uses double quotes, inside which bash expands $ and `; "
          + "use single quotes";
      default -> "the value of " + key + " contains " + shown + ", which is only safe inside single quotes";
    };
  }
}
