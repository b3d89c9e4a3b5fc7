package io.istiovmagent.config;

import io.istiovmagent.util.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A mapping from config.yaml that remembers which keys were read, so that every key nobody asked for is reported
 * by name: a typo must not silently fall back to a default.
 */
final class ConfigNode {
  private final String file;
  private final String path;
  private final Map<String, Object> map;
  private final Set<String> known = new TreeSet<>();
  private final List<ConfigNode> children = new ArrayList<>();

  ConfigNode(String file, String path, Map<?, ?> map) throws ConfigException {
    this.file = file;
    this.path = path;
    this.map = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getKey() instanceof String k)) {
        throw new ConfigException(file + ": key " + e.getKey() + (path.isEmpty() ? "" : " under '" + path + "'")
            + " is not a string");
      }
      this.map.put(k, e.getValue());
    }
  }

  ConfigNode section(String key) throws ConfigException {
    known.add(key);
    Object v = map.get(key);
    ConfigNode child;
    if (v == null) {
      child = new ConfigNode(file, qualify(key), Map.of());
    } else if (v instanceof Map<?, ?> m) {
      child = new ConfigNode(file, qualify(key), m);
    } else {
      throw new ConfigException(file + ": '" + qualify(key) + "' must be a mapping of keys");
    }
    children.add(child);
    return child;
  }

  String string(String key) throws ConfigException {
    known.add(key);
    Object v = map.get(key);
    if (v == null) {
      return null;
    }
    if (v instanceof Map || v instanceof List) {
      throw new ConfigException(file + ": '" + qualify(key) + "' must be a single value");
    }
    String s = v.toString().strip();
    return s.isEmpty() ? null : s;
  }

  boolean bool(String key, boolean dflt) throws ConfigException {
    known.add(key);
    Object v = map.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Boolean b)) {
      throw new ConfigException(file + ": '" + qualify(key) + "' must be true or false");
    }
    return b;
  }

  Duration duration(String key, Duration dflt, Duration min) throws ConfigException {
    String s = string(key);
    if (s == null) {
      return dflt;
    }
    Duration d;
    try {
      d = Durations.parse(s);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(file + ": '" + qualify(key) + "': " + e.getMessage());
    }
    if (d.compareTo(min) < 0) {
      throw new ConfigException(file + ": '" + qualify(key) + "' is " + s + "; the least allowed is "
          + Durations.human(min));
    }
    return d;
  }

  List<String> strings(String key) throws ConfigException {
    known.add(key);
    Object v = map.get(key);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List<?> list)) {
      throw new ConfigException(file + ": '" + qualify(key) + "' must be a list, e.g. [a.example, b.example]");
    }
    List<String> out = new ArrayList<>();
    for (Object o : list) {
      if (o == null || o instanceof Map || o instanceof List) {
        throw new ConfigException(file + ": '" + qualify(key) + "' must be a list of plain values");
      }
      out.add(o.toString().strip());
    }
    return out;
  }

  /** Throws for the first key, at any depth, that was never read. */
  void rejectUnknown() throws ConfigException {
    for (String k : map.keySet()) {
      if (!known.contains(k)) {
        throw new ConfigException(file + ": unknown key '" + qualify(k) + "'"
            + (known.isEmpty() ? "" : "; known keys" + (path.isEmpty() ? "" : " under '" + path + "'") + ": "
                + String.join(", ", known)));
      }
    }
    for (ConfigNode c : children) {
      c.rejectUnknown();
    }
  }

  private String qualify(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }
}
