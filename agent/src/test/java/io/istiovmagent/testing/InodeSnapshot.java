package io.istiovmagent.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Every entry under a root with its inode, owner, mode, size, mtime and ctime: equal before and after only if
 * nothing was written, chowned, chmodded, renamed over or created there (no temporary file either).
 */
public final class InodeSnapshot {
  private InodeSnapshot() {}

  public static Map<String, String> of(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
        out.put("/" + root.relativize(p), a.get("ino") + " " + a.get("uid") + ":" + a.get("gid") + " "
            + Integer.toOctalString((Integer) a.get("mode")) + " " + a.get("size") + " mtime "
            + a.get("lastModifiedTime") + " ctime " + a.get("ctime"));
      }
    }
    return out;
  }
}
