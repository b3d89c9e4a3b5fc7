package io.istiovmagent.fs;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The mode of every directory the agent creates, set explicitly: the umask would make it anything (000: 0777).
 * Directories are created through {@link DirHandle#mkdir}.
 */
public final class Dirs {
  public static final Set<PosixFilePermission> PUBLIC = PosixFilePermissions.fromString("rwxr-xr-x");
  public static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rwx------");

  private Dirs() {}

  /** A directory of the agent's own state (named by host path): created with its parents when missing, 0700. */
  public static void ensurePrivate(Path dir) throws IOException {
    try (DirHandle d = RootFs.HOST.openDirectory(dir.toAbsolutePath().toString(), true)) {
      d.chmodSelf(PRIVATE);
    }
  }
}
