package io.istiovmagent.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The rule ids docs/verification.md documents: the first cell of each table row, and the two named in its prose. */
public final class DocumentedRules {
  private static final Pattern TICKED = Pattern.compile("`([a-z0-9-]+)`");

  private DocumentedRules() {}

  public static Set<String> load() {
    Path doc = find();
    Set<String> rules = new TreeSet<>();
    try {
      for (String line : Files.readAllLines(doc)) {
        if (line.startsWith("| `")) {
          Matcher m = TICKED.matcher(line.substring(1, line.indexOf('|', 1)));
          while (m.find()) {
            rules.add(m.group(1));
          }
        }
      }
      String text = Files.readString(doc);
      for (String prose : new String[] {"missing", "cert-expiring"}) {
        if (text.contains("`" + prose + "`")) {
          rules.add(prose);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return rules;
  }

  /** docs/verification.md from the working directory or one above it (a fuzzing JVM runs under target/). */
  private static Path find() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path doc = dir.resolve("docs/verification.md");
      if (Files.isRegularFile(doc) && Files.isRegularFile(dir.resolve("pom.xml"))) {
        return doc;
      }
    }
    throw new IllegalStateException("docs/verification.md not found above " + Path.of("").toAbsolutePath());
  }
}
