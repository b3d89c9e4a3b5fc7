package io.istiovmagent.install;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Directory creation with an explicit mode. Files.createDirectories obeys the umask: 000 would make /var/lib 0777. */
public final class Dirs {
  public static final Set<PosixFilePermission> PUBLIC = PosixFilePermissions.fromString("rwxr-xr-x");

  private Dirs() {}

  /** Creates dir and its missing parents, each 0755 and owned by the caller (root), whatever the umask. */
  public static void mkdirs(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    mkdirs(dir.getParent());
    Files.createDirectory(dir);
    Files.setPosixFilePermissions(dir, PUBLIC);
  }
}
