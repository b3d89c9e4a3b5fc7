package io.istiovmagent.util;

import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.representer.Representer;

/**
 * YAML for untrusted and hand-written input: plain maps, lists and scalars only (no tags that build objects),
 * few aliases (a billion-laughs document fails at once), shallow nesting, no duplicate keys, bounded size.
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
    try {
      return yaml.load(text);
    } catch (RuntimeException | StackOverflowError e) {
      throw new YamlError("is not acceptable YAML: " + summarize(e));
    }
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
