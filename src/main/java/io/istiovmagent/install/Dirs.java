package io.istiovmagent.install;

import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The mode of every directory the agent creates, set explicitly: the umask would make it anything (000: 0777).
 * Directories are created through {@link DirHandle#mkdir}.
 */
public final class Dirs {
  public static final Set<PosixFilePermission> PUBLIC = PosixFilePermissions.fromString("rwxr-xr-x");

  private Dirs() {}
}
