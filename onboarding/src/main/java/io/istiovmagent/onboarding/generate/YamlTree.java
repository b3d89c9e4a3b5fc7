package io.istiovmagent.onboarding.generate;

import io.istiovmagent.util.SafeYaml;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reading the generator's inputs (a WorkloadGroup, a mesh config, a proxy-config annotation) as trees of maps,
 * lists and scalars, each refusal naming the field: what WorkloadGroup and MeshYaml share.
 */
final class YamlTree {
  private YamlTree() {}

  /** The document as a mapping; an empty document is an empty one. {@code what} names it in an error. */
  static Map<String, Object> load(String yaml, String what) throws InvalidInputException {
    Object doc;
    try {
      doc = SafeYaml.load(yaml, 1 << 20);
    } catch (SafeYaml.YamlError e) {
      throw new InvalidInputException(what + " " + e.getMessage());
    }
    return map(doc, what);
  }

  /** A mapping with string keys; null (absent) is an empty one. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o, String where) throws InvalidInputException {
    if (o == null) {
      return Map.of();
    }
    if (!(o instanceof Map<?, ?> m)) {
      throw new InvalidInputException(where + " must be a mapping");
    }
    for (Object k : m.keySet()) {
      if (!(k instanceof String)) {
        throw new InvalidInputException(where + " has a key that is not a string: " + k);
      }
    }
    return (Map<String, Object>) m;
  }

  /** A mapping of strings (labels, annotations, proxyMetadata); null (absent) is an empty one. */
  static Map<String, String> strings(Object o, String where) throws InvalidInputException {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : map(o, where).entrySet()) {
      if (!(e.getValue() instanceof String s)) {
        throw notAString(where + "." + e.getKey(), e.getValue());
      }
      out.put(e.getKey(), s);
    }
    return out;
  }

  static InvalidInputException notAString(String path, Object v) {
    return new InvalidInputException(path + " must be a string, not " + describe(v)
        + " (quote it: YAML reads yes, no, on, off and numbers as other types)");
  }

  static String describe(Object v) {
    return v == null ? "null" : v instanceof Map ? "a mapping" : v instanceof List ? "a list"
        : v.getClass().getSimpleName().toLowerCase(Locale.ROOT) + " " + v;
  }
}
