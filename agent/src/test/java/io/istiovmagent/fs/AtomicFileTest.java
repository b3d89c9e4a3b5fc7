package io.istiovmagent.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The in-place fallback for /etc/hosts under ProtectSystem=strict: the unit makes only the file writable, so the
 * directory refuses the temporary file. A real directory that takes no new entries stands in for the read-only /etc.
 */
class AtomicFileTest {
  private static final Set<PosixFilePermission> MODE = PosixFilePermissions.fromString("rw-r--r--");
  private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

  @TempDir
  Path tmp;

  private Path lockedDir;

  /**
   * A directory in which no entry can be created or renamed, its files still writable: as root (who ignores
   * permissions) an immutable directory (chattr +i: EPERM); otherwise a directory without write permission (EACCES).
   */
  private Path lockedDirectoryWith(String name, String content) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("etc"));
    Files.writeString(dir.resolve(name), content);
    if (ROOT) {
      Assumptions.assumeTrue(run("chattr", "+i", dir.toString()) == 0,
          "chattr +i needs a file system with inode flags (ext4, xfs, btrfs); this temporary directory has none");
    } else {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
    }
    lockedDir = dir;
    return dir.resolve(name);
  }

  @AfterEach
  void unlock() throws Exception {
    if (lockedDir != null) {
      if (ROOT) {
        assertEquals(0, run("chattr", "-i", lockedDir.toString()));
      } else {
        Files.setPosixFilePermissions(lockedDir, PosixFilePermissions.fromString("rwxr-xr-x"));
      }
    }
  }

  @Test
  void rewritesInPlaceWhenTheDirectoryRefusesTheTemporaryFile() throws Exception {
    Path hosts = lockedDirectoryWith("hosts", "127.0.0.1 localhost\n");
    long inode = inode(hosts);

    AtomicFile.Outcome outcome = writeHosts(hosts, utf8("127.0.0.1 localhost\n# new\n"),
        owner(hosts), MODE);

    assertEquals(AtomicFile.Outcome.REWRITTEN_IN_PLACE, outcome);
    assertEquals("127.0.0.1 localhost\n# new\n", Files.readString(hosts));
    assertEquals(inode, inode(hosts), "the same file, rewritten, not replaced");
    assertEquals(MODE, Files.getPosixFilePermissions(hosts));
    assertEquals(List.of(hosts), list(hosts.getParent()), "no temporary file left behind");
  }

  @Test
  void aShorterInPlaceRewriteLeavesNoTailOfTheOldContent() throws Exception {
    Path hosts = lockedDirectoryWith("hosts", "127.0.0.1 localhost\n10.0.0.1 a-much-longer-line-than-the-new-one\n");

    writeHosts(hosts, utf8("::1 localhost\n"), owner(hosts), MODE);

    assertEquals("::1 localhost\n", Files.readString(hosts));
  }

  @Test
  void theOrdinaryWriteDoesNotFallBackForARefusingDirectory() throws Exception {
    Path token = lockedDirectoryWith("istio-token", "old");

    assertThrows(FileSystemException.class, () -> AtomicFile.write(token, utf8("new"), owner(token), MODE));
    assertEquals("old", Files.readString(token), "a secret is replaced atomically or not at all");
  }

  @Test
  void aMissingFileInARefusingDirectoryIsStillAnError() throws Exception {
    Path present = lockedDirectoryWith("present", "x");
    Path missing = present.resolveSibling("hosts");

    assertThrows(FileSystemException.class,
        () -> writeHosts(missing, utf8("new"), FileOwner.ROOT, MODE));
    assertFalse(Files.exists(missing));
  }

  @Test
  void aWritableDirectoryStillGetsTheAtomicRename() throws Exception {
    Path hosts = Files.writeString(Files.createDirectories(tmp.resolve("open")).resolve("hosts"), "old\n");
    long inode = inode(hosts);

    assertEquals(AtomicFile.Outcome.RENAMED, writeHosts(hosts, utf8("new\n"), owner(hosts), MODE));
    assertEquals("new\n", Files.readString(hosts));
    assertTrue(inode != inode(hosts), "replaced by a rename");
  }

  /**
   * Only /etc/hosts may be rewritten in place. Every write used to fall back in place on EBUSY: a token made a
   * bind mount (or, inside the unit, a link to /etc/hosts) was written through rather than replaced.
   */
  @Test
  void anOrdinaryWriteNeverRewritesABindMountedFileInPlace() throws Exception {
    Assumptions.assumeTrue(ROOT, "bind-mounting a file needs root (CAP_SYS_ADMIN); CI runs as root");
    Path token = Files.writeString(Files.createDirectories(tmp.resolve("tokens")).resolve("istio-token"), "old");
    Path outside = Files.writeString(tmp.resolve("outside"), "not the agent's");
    assertEquals(0, run("mount", "--bind", outside.toString(), token.toString()));
    try {
      assertThrows(FileSystemException.class, () -> AtomicFile.write(token, utf8("new"), owner(token), MODE));
      assertEquals("not the agent's", Files.readString(outside));
      assertEquals(List.of(token), list(token.getParent()), "no temporary file left behind");
    } finally {
      assertEquals(0, run("umount", token.toString()));
    }
  }

  @Test
  void aLinkAtHostsIsNeverRewrittenInPlace() throws Exception {
    Path target = Files.writeString(tmp.resolve("elsewhere"), "127.0.0.1 localhost\n");
    Files.createSymbolicLink(Files.createDirectories(tmp.resolve("etc")).resolve("hosts"), Path.of("../elsewhere"));
    Path hosts = lockedDirectoryWith("present", "x").resolveSibling("hosts");

    assertThrows(FileSystemException.class,
        () -> writeHosts(hosts, utf8("127.0.0.1 localhost\n# new\n"), FileOwner.ROOT, MODE));
    assertEquals("127.0.0.1 localhost\n", Files.readString(target));
    assertTrue(Files.isSymbolicLink(hosts));
  }

  /** The hosts write as the Installer does it: relative to an open /etc. */
  private static AtomicFile.Outcome writeHosts(Path target, byte[] content, FileOwner owner,
      Set<PosixFilePermission> mode) throws Exception {
    try (DirHandle dir = RootFs.HOST.openDirectory(target.getParent().toString(), false)) {
      return AtomicFile.writeHosts(dir, target.getFileName().toString(), content, owner, mode);
    }
  }

  private static FileOwner owner(Path p) throws Exception {
    return new FileOwner("owner", uid(p), (Integer) Files.getAttribute(p, "unix:gid"));
  }

  private static int uid(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:uid");
  }

  private static long inode(Path p) throws Exception {
    return (Long) Files.getAttribute(p, "unix:ino");
  }

  private static List<Path> list(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor();
  }
}
