package io.istiovmagent.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A symbolic link istio-proxy could plant where the agent writes (it owns the directories the sidecar's files live
 * in), pointing at a root-owned file or directory under the same root. The link target is relative, so that even a
 * write that followed it at the OS level stays inside the temporary root.
 */
public final class PlantedLink {
  /** The file a planted link points at: what an attacker would like root to write and hand over. */
  public static final String EVIL_FILE = "/etc/profile.d/zz-evil.sh";
  /** The directory a planted directory link points at. */
  public static final String EVIL_DIR = "/etc/profile.d";
  private static final byte[] ORIGINAL = "# shipped by the distribution\n".getBytes(StandardCharsets.UTF_8);

  private final Path link;
  private final Path target;
  public final String systemPath;

  private PlantedLink(Path link, Path target, String systemPath) {
    this.link = link;
    this.target = target;
    this.systemPath = systemPath;
  }

  /**
   * Replaces whatever is at systemPath (a file, or a directory with everything in it) by a link owned by
   * istio-proxy, to {@link #EVIL_DIR} when {@code directory}, else to {@link #EVIL_FILE}.
   */
  public static PlantedLink at(Path root, String systemPath, boolean directory) throws IOException {
    Path evilDir = Files.createDirectories(root.resolve(EVIL_DIR.substring(1)));
    Files.setPosixFilePermissions(evilDir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path evilFile = root.resolve(EVIL_FILE.substring(1));
    if (!Files.exists(evilFile)) {
      Files.write(evilFile, ORIGINAL);
      Files.setPosixFilePermissions(evilFile, PosixFilePermissions.fromString("rw-r--r--"));
    }
    String parent = systemPath.substring(0, systemPath.lastIndexOf('/'));
    Path link = new RootFs(root).resolve(parent).resolve(systemPath.substring(systemPath.lastIndexOf('/') + 1));
    Files.createDirectories(link.getParent());
    deleteTree(link);
    Path target = directory ? evilDir : evilFile;
    Files.createSymbolicLink(link, link.getParent().relativize(target));
    Files.setAttribute(link, "unix:uid", TestBundles.PROXY_UID, LinkOption.NOFOLLOW_LINKS);
    Files.setAttribute(link, "unix:gid", TestBundles.PROXY_GID, LinkOption.NOFOLLOW_LINKS);
    return new PlantedLink(link, target, systemPath);
  }

  /** Where the link is (under the root, /etc/istio followed). */
  public Path link() {
    return link;
  }

  /** The link's target is as it was: same bytes (or, for a directory, the same entries), root's, same mode. */
  public void assertTargetUntouched() throws IOException {
    Path evilFile = target.endsWith("zz-evil.sh") ? target : target.resolve("zz-evil.sh");
    assertArrayEquals(ORIGINAL, Files.readAllBytes(evilFile), EVIL_FILE + " was written through " + systemPath);
    assertTrue(Files.isRegularFile(evilFile, LinkOption.NOFOLLOW_LINKS), EVIL_FILE + " replaced");
    assertEquals(0, Files.getAttribute(evilFile, "unix:uid", LinkOption.NOFOLLOW_LINKS), "owner of " + EVIL_FILE);
    assertEquals(0, Files.getAttribute(evilFile, "unix:gid", LinkOption.NOFOLLOW_LINKS), "group of " + EVIL_FILE);
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(evilFile,
        LinkOption.NOFOLLOW_LINKS)), "mode of " + EVIL_FILE);
    Path evilDir = evilFile.getParent();
    try (Stream<Path> s = Files.list(evilDir)) {
      assertEquals(List.of(evilFile), s.toList(), "entries of " + EVIL_DIR + " (written through " + systemPath + ")");
    }
    assertEquals(0, Files.getAttribute(evilDir, "unix:uid", LinkOption.NOFOLLOW_LINKS), "owner of " + EVIL_DIR);
    assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(evilDir,
        LinkOption.NOFOLLOW_LINKS)), "mode of " + EVIL_DIR);
    assertTrue(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "target still there");
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      try (Stream<Path> s = Files.walk(p)) {
        for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(q);
        }
      }
    } else {
      Files.delete(p);
    }
  }
}
