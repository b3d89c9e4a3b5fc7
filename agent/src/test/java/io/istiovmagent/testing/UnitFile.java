package io.istiovmagent.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A systemd unit file's settings, enough for ours: sections, KEY=VALUE, comments, continuation lines. */
public record UnitFile(Map<String, List<String>> settings) {
  public static UnitFile read(Path file) throws IOException {
    Map<String, List<String>> out = new LinkedHashMap<>();
    String section = null;
    StringBuilder pending = new StringBuilder();
    for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String line = raw.strip();
      if (pending.length() == 0 && (line.isEmpty() || line.startsWith("#") || line.startsWith(";"))) {
        continue;
      }
      if (line.endsWith("\\")) {
        pending.append(line, 0, line.length() - 1).append(' ');
        continue;
      }
      line = pending.append(line).toString().strip();
      pending.setLength(0);
      if (line.startsWith("[") && line.endsWith("]")) {
        section = line.substring(1, line.length() - 1);
        continue;
      }
      int eq = line.indexOf('=');
      if (section == null || eq <= 0) {
        throw new AssertionError(file + ": not a unit file line: " + raw);
      }
      out.computeIfAbsent(section + "/" + line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1).strip());
    }
    return new UnitFile(out);
  }

  /** Every assignment of a key, in order ("Service/ReadWritePaths"). */
  public List<String> all(String key) {
    return settings.getOrDefault(key, List.of());
  }

  /** The words of every assignment of a key, joined: what systemd makes of a list setting assigned repeatedly. */
  public List<String> words(String key) {
    List<String> out = new ArrayList<>();
    for (String v : all(key)) {
      for (String w : v.split("\\s+")) {
        if (!w.isEmpty()) {
          out.add(w);
        }
      }
    }
    return out;
  }

  /** The last assignment of a key (the one systemd uses for a single-valued setting), or null. */
  public String value(String key) {
    List<String> v = all(key);
    return v.isEmpty() ? null : v.get(v.size() - 1);
  }
}
