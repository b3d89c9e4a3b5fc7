package io.istiovmagent.install;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;

/**
 * The one way the agent writes a file: a temporary file in the same directory, owner and mode set explicitly
 * (whatever the umask), fsync, rename over the target, fsync the directory. A reader, or the machine after a
 * crash, sees the old content or the new, never a mix.
 */
public final class AtomicFile {
  /** How a write ended up on disk. */
  public enum Outcome {
    RENAMED,
    /** The target could not be renamed over (a bind mount such as Docker's /etc/hosts): rewritten in place. */
    REWRITTEN_IN_PLACE
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final FileAttribute<Set<PosixFilePermission>> PRIVATE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  private AtomicFile() {}

  public static Outcome write(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode)
      throws IOException {
    Path dir = target.getParent();
    byte[] suffix = new byte[6];
    RANDOM.nextBytes(suffix);
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + HexFormat.of().formatHex(suffix));
    boolean moved = false;
    try {
      try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
          PRIVATE)) {
        writeFully(ch, content);
        chown(tmp, owner);
        Files.setPosixFilePermissions(tmp, mode);
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        moved = true;
      } catch (FileSystemException e) {
        if (!isBusy(e) || !Files.isRegularFile(target)) {
          throw e;
        }
        rewriteInPlace(target, content, owner, mode);
        return Outcome.REWRITTEN_IN_PLACE;
      }
      fsyncDirectory(dir);
      return Outcome.RENAMED;
    } finally {
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  private static void rewriteInPlace(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode)
      throws IOException {
    try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      writeFully(ch, content);
      ch.force(true);
    }
    chown(target, owner);
    Files.setPosixFilePermissions(target, mode);
  }

  /** EBUSY (bind-mounted target) and EXDEV (target on another file system) cannot be renamed over. */
  static boolean isBusy(FileSystemException e) {
    String reason = String.valueOf(e.getReason());
    return reason.contains("Device or resource busy") || reason.contains("Invalid cross-device link");
  }

  private static void writeFully(FileChannel ch, byte[] content) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(content);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  /** Sets owner and group when they differ; changing nothing keeps ctime as it was. */
  public static boolean chown(Path p, FileOwner owner) throws IOException {
    int uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    int gid = (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
    boolean changed = false;
    if (uid != owner.uid()) {
      Files.setAttribute(p, "unix:uid", owner.uid(), LinkOption.NOFOLLOW_LINKS);
      changed = true;
    }
    if (gid != owner.gid()) {
      Files.setAttribute(p, "unix:gid", owner.gid(), LinkOption.NOFOLLOW_LINKS);
      changed = true;
    }
    return changed;
  }

  public static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
