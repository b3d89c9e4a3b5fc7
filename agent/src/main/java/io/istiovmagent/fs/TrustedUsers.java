package io.istiovmagent.fs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;

/**
 * The users whose symbolic links the agent follows: root, and the user the agent runs as (root in production; the
 * developer running a demo under a root prefix). A link either of them made gives no one any power they lacked.
 */
final class TrustedUsers {
  private static final UserPrincipal ROOT;
  private static final UserPrincipal SELF;

  static {
    try {
      ROOT = DirHandle.user(0);
      // /proc/self is owned by the process's effective uid: the JDK offers no geteuid().
      SELF = Files.getOwner(Path.of("/proc/self"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private TrustedUsers() {}

  static boolean isTrusted(UserPrincipal owner) {
    return ROOT.equals(owner) || SELF.equals(owner);
  }
}
