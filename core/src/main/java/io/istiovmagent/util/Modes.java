package io.istiovmagent.util;

import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/** File modes as people read them: "0640". */
public final class Modes {
  private Modes() {}

  public static String octal(Set<PosixFilePermission> perms) {
    int mode = 0;
    for (PosixFilePermission p : perms) {
      // PosixFilePermission is declared OWNER_READ .. OTHERS_EXECUTE: ordinal 0 is bit 8 (0400).
      mode |= 1 << (8 - p.ordinal());
    }
    return String.format("%04o", mode);
  }
}
