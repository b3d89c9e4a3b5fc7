package io.istiovmagent.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.TimeUnit;

/** Size, mtime and inode: enough to notice that a file was replaced or edited, for the cost of one stat. */
record FileStamp(long size, long mtimeNanos, Object inode) {
  /** The stamp, or null when the file does not exist. */
  static FileStamp of(Path p) {
    try {
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      return new FileStamp(a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS), a.fileKey());
    } catch (IOException e) {
      return null;
    }
  }
}
