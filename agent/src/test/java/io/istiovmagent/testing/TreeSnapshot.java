package io.istiovmagent.testing;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/** Every path under a root with its owner, mode, inode, and for a file its mtime, size and content's SHA-256: to prove nothing changed. */
public final class TreeSnapshot {
  private TreeSnapshot() {}

  public static Map<String, String> of(Path root) throws IOException {
    return of(root, p -> false);
  }

  /**
   * As {@link #of(Path)}, leaving out the paths {@code excluded} names ("/"-prefixed, relative to the root, as the
   * keys are): files something else may rewrite meanwhile, even while the walk runs. An excluded directory is left
   * out with everything under it.
   */
  public static Map<String, String> of(Path root, Predicate<String> excluded) throws IOException {
    Map<String, String> out = new TreeMap<>();
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (excluded.test(key(root, dir))) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        put(root, dir, out);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (!excluded.test(key(root, file))) {
          put(root, file, out);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (excluded.test(key(root, file))) {
          return FileVisitResult.CONTINUE; // e.g. a temporary file renamed away between listing and reading
        }
        throw e;
      }
    });
    return out;
  }

  private static String key(Path root, Path p) {
    return "/" + root.relativize(p);
  }

  private static void put(Path root, Path p, Map<String, String> out) throws IOException {
    Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
    StringBuilder sb = new StringBuilder();
    sb.append(a.get("uid")).append(':').append(a.get("gid")).append(' ')
        .append(Integer.toOctalString((Integer) a.get("mode"))).append(' ')
        .append(a.get("ino")).append(' ');
    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
      sb.append(a.get("lastModifiedTime")).append(' ').append(sha256(Files.readAllBytes(p)))
          .append(' ').append(Files.size(p));
    } else if (Files.isSymbolicLink(p)) {
      sb.append("-> ").append(Files.readSymbolicLink(p));
    }
    out.put(key(root, p), sb.toString());
  }

  private static String sha256(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every Java runtime has SHA-256", e);
    }
  }
}
