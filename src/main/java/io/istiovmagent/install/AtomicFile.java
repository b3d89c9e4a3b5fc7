package io.istiovmagent.install;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
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
 *
 * <p>Two cases cannot be renamed over and fall back to rewriting the file in place, which is not atomic: a target
 * that is a mount point or on another file system (EBUSY, EXDEV: Docker's bind-mounted /etc/hosts), for every
 * caller; and, only for a caller that opts in with {@link #writeAllowingInPlace}, a directory that refuses new
 * entries (EROFS, EACCES, EPERM) while the file itself stays writable: /etc/hosts under the unit's
 * ProtectSystem=strict with ReadWritePaths=/etc/hosts, which keeps the rest of /etc read-only.
 */
public final class AtomicFile {
  /** How a write ended up on disk. */
  public enum Outcome {
    RENAMED,
    /**
     * The target could not be replaced by a rename (a bind mount such as Docker's /etc/hosts, or a read-only
     * directory around a writable file): rewritten in place.
     */
    REWRITTEN_IN_PLACE
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final FileAttribute<Set<PosixFilePermission>> PRIVATE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  private AtomicFile() {}

  public static Outcome write(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode)
      throws IOException {
    return write(target, content, owner, mode, false);
  }

  /**
   * Like {@link #write}, and also rewrites an existing regular file in place when its directory refuses the
   * temporary file or the rename (read-only, or not permitted). Only for a file whose every reader tolerates that
   * (the agent's /etc/hosts block, which it checks and repairs every second); never for a secret or for state.
   */
  public static Outcome writeAllowingInPlace(Path target, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode) throws IOException {
    return write(target, content, owner, mode, true);
  }

  private static Outcome write(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode,
      boolean inPlaceWhenDirectoryRefuses) throws IOException {
    Path dir = target.getParent();
    byte[] suffix = new byte[6];
    RANDOM.nextBytes(suffix);
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + HexFormat.of().formatHex(suffix));
    boolean moved = false;
    try {
      FileChannel created;
      try {
        created = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PRIVATE);
      } catch (FileSystemException e) {
        if (!inPlaceWhenDirectoryRefuses || !refusesNewEntries(e) || !Files.isRegularFile(target)) {
          throw e;
        }
        rewriteInPlace(target, content, owner, mode);
        return Outcome.REWRITTEN_IN_PLACE;
      }
      try (FileChannel ch = created) {
        writeFully(ch, content);
        chown(tmp, owner);
        Files.setPosixFilePermissions(tmp, mode);
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        moved = true;
      } catch (FileSystemException e) {
        boolean inPlace = isBusy(e) || inPlaceWhenDirectoryRefuses && refusesNewEntries(e);
        if (!inPlace || !Files.isRegularFile(target)) {
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

  /**
   * Writes the new content over the old from the start, then cuts the file to its length: a reader racing the
   * write, or the file after a crash, holds the new text followed at worst by the old text's tail, never an empty
   * or cut-short file (for /etc/hosts: never a file without its localhost lines).
   */
  private static void rewriteInPlace(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode)
      throws IOException {
    try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE)) {
      writeFully(ch, content);
      ch.truncate(content.length);
      ch.force(true);
    }
    chown(target, owner);
    if (!Files.getPosixFilePermissions(target, LinkOption.NOFOLLOW_LINKS).equals(mode)) {
      Files.setPosixFilePermissions(target, mode);
    }
  }

  /** EBUSY (bind-mounted target) and EXDEV (target on another file system) cannot be renamed over. */
  static boolean isBusy(FileSystemException e) {
    String reason = String.valueOf(e.getReason());
    return reason.contains("Device or resource busy") || reason.contains("Invalid cross-device link");
  }

  /**
   * EROFS (a read-only mount, such as /etc under ProtectSystem=strict), EACCES and EPERM (not permitted: no write
   * permission, an immutable directory): the directory takes no new entry, though the file in it may be writable.
   */
  static boolean refusesNewEntries(FileSystemException e) {
    if (e instanceof AccessDeniedException) {
      return true;
    }
    String reason = String.valueOf(e.getReason());
    return reason.contains("Read-only file system") || reason.contains("Permission denied")
        || reason.contains("Operation not permitted");
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
