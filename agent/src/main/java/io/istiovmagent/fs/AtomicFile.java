package io.istiovmagent.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/**
 * The one way the agent writes a file: a temporary file in the same directory, owner and mode set explicitly
 * (whatever the umask), fsync, rename over the target, fsync the directory. A reader, or the machine after a
 * crash, sees the old content or the new, never a mix.
 *
 * <p>Everything happens relative to an open {@link DirHandle}: the temporary file is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, chowned and chmodded through an O_NOFOLLOW descriptor, and renamed with renameat. A
 * symbolic link at the target is never followed: the rename replaces the link itself and its target stays as it
 * was.
 *
 * <p>Only /etc/hosts ({@link #writeHosts}) may fall back to rewriting the file in place, which is not atomic, when
 * its directory cannot take the rename: a bind-mounted /etc/hosts (Docker), or /etc read-only around a writable
 * /etc/hosts (the unit's ProtectSystem=strict with ReadWritePaths=/etc/hosts). That is decided from facts the
 * agent can query, never from the error's text, which the JVM translates with the process locale.
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

  /**
   * Writes a file the agent names by host path (its own status.json and last-known-good, in directories only
   * root can write); the directories on the way are opened as {@link RootFs#openDirectory} opens them.
   */
  public static Outcome write(Path target, byte[] content, FileOwner owner, Set<PosixFilePermission> mode)
      throws IOException {
    try (DirHandle dir = RootFs.HOST.openDirectory(target.toAbsolutePath().getParent().toString(), false)) {
      return write(dir, target.getFileName().toString(), content, owner, mode, false);
    }
  }

  /** Writes {@code name} in {@code dir}. */
  public static Outcome write(DirHandle dir, String name, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode) throws IOException {
    return write(dir, name, content, owner, mode, false);
  }

  /**
   * Like {@link #write}, and also rewrites an existing regular file in place when the directory cannot take the
   * rename. Only for /etc/hosts, whose every reader tolerates that (and which the agent checks and repairs every
   * second); never for a secret or for state, and never through a symbolic link.
   */
  public static Outcome writeHosts(DirHandle etc, String name, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode) throws IOException {
    return write(etc, name, content, owner, mode, true);
  }

  private static Outcome write(DirHandle dir, String name, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode, boolean inPlaceAllowed) throws IOException {
    byte[] suffix = new byte[6];
    RANDOM.nextBytes(suffix);
    String tmp = "." + name + ".tmp-" + HexFormat.of().formatHex(suffix);
    boolean created = false;
    boolean moved = false;
    try {
      FileChannel ch;
      try {
        ch = dir.createNew(tmp, PRIVATE);
        created = true;
      } catch (FileSystemException e) {
        if (!inPlaceAllowed || !cannotRenameOver(dir, name, e)) {
          throw e;
        }
        rewriteInPlace(dir, name, content, owner, mode);
        return Outcome.REWRITTEN_IN_PLACE;
      }
      try (ch) {
        writeFully(ch, content);
        dir.chown(tmp, owner);
        dir.chmod(tmp, mode);
        ch.force(true);
      }
      try {
        dir.rename(tmp, name);
        moved = true;
      } catch (FileSystemException e) {
        if (!inPlaceAllowed || !cannotRenameOver(dir, name, e)) {
          throw e;
        }
        rewriteInPlace(dir, name, content, owner, mode);
        return Outcome.REWRITTEN_IN_PLACE;
      }
      dir.fsync();
      return Outcome.RENAMED;
    } finally {
      if (created && !moved) {
        try {
          dir.delete(tmp);
        } catch (IOException e) {
          // The failure that got us here is the one to report; a directory that refuses the delete refuses more.
        }
      }
    }
  }

  /**
   * Writes the new content over the old from the start, then cuts the file to its length: a reader racing the
   * write, or the file after a crash, holds the new text followed at worst by the old text's tail, never an empty
   * or cut-short file (for /etc/hosts: never a file without its localhost lines).
   */
  private static void rewriteInPlace(DirHandle dir, String name, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode) throws IOException {
    try (FileChannel ch = dir.openForWriting(name)) {
      writeFully(ch, content);
      ch.truncate(content.length);
      ch.force(true);
    }
    dir.chown(name, owner);
    dir.chmod(name, mode);
  }

  /**
   * Whether the failed temporary file or rename means that this directory cannot replace the existing regular file
   * {@code name}, though the file itself may be written. Decided from the exception's type and from facts about
   * the directory and the file, not from the message: the JVM translates it ("Das Dateisystem ist nur lesbar").
   * EACCES is an {@link AccessDeniedException}, EXDEV an {@link AtomicMoveNotSupportedException}; EROFS (/etc
   * mounted read-only) and EPERM (an immutable directory) show as a directory that access(2) says is not writable;
   * EBUSY as a target that is a mount point. Never for a symbolic link or a missing file.
   */
  static boolean cannotRenameOver(DirHandle dir, String name, FileSystemException e) throws IOException {
    Optional<PosixFileAttributes> target = dir.attributes(name);
    if (target.isEmpty() || !target.get().isRegularFile()) {
      return false;
    }
    return e instanceof AccessDeniedException || e instanceof AtomicMoveNotSupportedException
        || !Files.isWritable(dir.path()) || dir.isMountPoint(name);
  }

  private static void writeFully(FileChannel ch, byte[] content) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(content);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }
}
