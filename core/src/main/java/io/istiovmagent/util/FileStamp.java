package io.istiovmagent.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;

/**
 * What one stat of a path says about its identity and version: inode (file key), size, mtime and, where the
 * platform offers it, ctime. A rewrite in place, a rename over it or `cp -p` (which keeps mtime) all change it.
 */
public record FileStamp(boolean exists, boolean regularFile, boolean directory, boolean link, Object fileKey, long size,
    FileTime modified, Object changed) {
  public static final FileStamp ABSENT = new FileStamp(false, false, false, false, null, -1, null, null);

  /** Stats {@code p} itself (a symbolic link is described, not followed, unless {@code follow}). */
  public static FileStamp of(Path p, boolean follow) throws IOException {
    LinkOption[] opts = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(p, BasicFileAttributes.class, opts);
    } catch (java.nio.file.NoSuchFileException e) {
      return ABSENT;
    }
    return new FileStamp(true, a.isRegularFile(), a.isDirectory(), a.isSymbolicLink(), a.fileKey(), a.size(),
        a.lastModifiedTime(), ctime(p, opts));
  }

  /**
   * Stats {@code p} itself; a path that cannot be read counts as absent. For watchers that only ask "did it
   * change?": an unreadable file is a change, and whoever reads it next reports why.
   */
  public static FileStamp orAbsent(Path p) {
    try {
      return of(p, false);
    } catch (IOException e) {
      return ABSENT;
    }
  }

  private static Object ctime(Path p, LinkOption[] opts) {
    try {
      Map<String, Object> m = Files.readAttributes(p, "unix:ctime", opts);
      return m.get("ctime");
    } catch (UnsupportedOperationException | IllegalArgumentException | IOException e) {
      return null; // not a Unix file system: inode, size and mtime still tell most rewrites apart
    }
  }
}
