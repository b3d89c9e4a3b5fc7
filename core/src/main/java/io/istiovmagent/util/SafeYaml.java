package io.istiovmagent.util;

import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.representer.Representer;

/**
 * YAML for untrusted and hand-written input: plain maps, lists and scalars only (no tags that build objects),
 * few aliases (a billion-laughs document fails at once), no structure that contains itself, shallow nesting, no
 * duplicate keys, bounded size.
 */
public final class SafeYaml {
  /** The document is not acceptable YAML; the message says where and why. */
  public static final class YamlError extends Exception {
    YamlError(String message) {
      super(message, null, false, false);
    }
  }

  private static final int MAX_ALIASES = 20;
  private static final int MAX_DEPTH = 32;

  private SafeYaml() {}

  public static Object load(String text, int maxCodePoints) throws YamlError {
    LoaderOptions opts = new LoaderOptions();
    opts.setMaxAliasesForCollections(MAX_ALIASES);
    opts.setNestingDepthLimit(MAX_DEPTH);
    opts.setCodePointLimit(maxCodePoints);
    opts.setAllowDuplicateKeys(false);
    opts.setAllowRecursiveKeys(false);
    opts.setProcessComments(false);
    DumperOptions dump = new DumperOptions();
    Yaml yaml = new Yaml(new SafeConstructor(opts), new Representer(dump), dump, opts);
    Object doc;
    try {
      doc = yaml.load(text);
    } catch (RuntimeException | StackOverflowError e) {
      throw new YamlError("is not acceptable YAML: " + summarize(e));
    }
    refuseCycles(doc, Collections.newSetFromMap(new IdentityHashMap<>()),
        Collections.newSetFromMap(new IdentityHashMap<>()));
    return doc;
  }

  /**
   * SnakeYAML builds a structure that contains itself from an alias inside its own anchor ({@code a: &x [*x]}).
   * Printing, hashing or walking one never ends (a StackOverflowError far from here), so it is refused. Linear: each
   * node is walked once however often aliases repeat it; the depth is bounded by the nesting limit and the aliases.
   */
  private static void refuseCycles(Object node, Set<Object> path, Set<Object> done) throws YamlError {
    if (!(node instanceof Map || node instanceof Collection) || done.contains(node)) {
      return;
    }
    if (!path.add(node)) {
      throw new YamlError("is not acceptable YAML: an alias refers to a node that contains it (a recursive "
          + "structure)");
    }
    if (node instanceof Map<?, ?> map) {
      for (Map.Entry<?, ?> e : map.entrySet()) {
        refuseCycles(e.getKey(), path, done);
        refuseCycles(e.getValue(), path, done);
      }
    } else {
      for (Object o : (Collection<?>) node) {
        refuseCycles(o, path, done);
      }
    }
    path.remove(node);
    done.add(node);
  }

  /**
   * SnakeYAML messages span several lines and quote the offending input (indented snippet lines and a caret);
   * keep only the reason and the position, so no content of the file, possibly a secret, reaches a message.
   */
  private static String summarize(Throwable e) {
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    StringBuilder sb = new StringBuilder();
    for (String line : msg.split("\n")) {
      String l = line.strip();
      if (l.isEmpty() || line.startsWith("    ") || l.startsWith("^")) {
        continue;
      }
      if (sb.length() > 0) {
        sb.append("; ");
      }
      sb.append(l);
      if (sb.length() > 200) {
        break;
      }
    }
    return sb.toString();
  }
}
