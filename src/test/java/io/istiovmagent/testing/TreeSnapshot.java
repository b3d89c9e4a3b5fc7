package io.istiovmagent.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Every path under a root with its type, owner, mode, mtime, inode and content: to prove nothing changed. */
public final class TreeSnapshot {
  private TreeSnapshot() {}

  public static Map<String, String> of(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
        StringBuilder sb = new StringBuilder();
        sb.append(a.get("uid")).append(':').append(a.get("gid")).append(' ')
            .append(Integer.toOctalString((Integer) a.get("mode"))).append(' ')
            .append(a.get("ino")).append(' ');
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          sb.append(a.get("lastModifiedTime")).append(' ').append(Arrays.hashCode(Files.readAllBytes(p)))
              .append(' ').append(Files.size(p));
        } else if (Files.isSymbolicLink(p)) {
          sb.append("-> ").append(Files.readSymbolicLink(p));
        }
        out.put("/" + root.relativize(p), sb.toString());
      }
    }
    return out;
  }
}
