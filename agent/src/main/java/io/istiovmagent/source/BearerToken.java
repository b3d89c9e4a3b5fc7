package io.istiovmagent.source;

import io.istiovmagent.util.Modes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/** The join credential sent to the bundle source. Its value is never printed: not by toString, not in errors. */
public final class BearerToken {
  private static final int MAX_BYTES = 16 * 1024;
  private final String value;

  private BearerToken(String value) {
    this.value = value;
  }

  /** The Authorization header value. */
  public String headerValue() {
    return "Bearer " + value;
  }

  /** Reads a token file that only its owner can read (0600 or stricter); anything else is refused. */
  public static BearerToken readFile(Path file) throws SourceConfigException {
    try {
      if (!Files.isRegularFile(file)) {
        throw new SourceConfigException("token file " + file + " does not exist or is not a regular file");
      }
      // Judge the file that is read: a symlink's own mode is always 0777 on Linux and cannot be changed.
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      Set<PosixFilePermission> open = EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
          PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
          PosixFilePermission.OTHERS_EXECUTE);
      open.retainAll(perms);
      if (!open.isEmpty()) {
        throw new SourceConfigException("token file " + file + " is accessible to other users (mode "
            + Modes.octal(perms) + "); run: chmod 600 " + file);
      }
      byte[] bytes = Files.readAllBytes(file);
      if (bytes.length > MAX_BYTES) {
        throw new SourceConfigException("token file " + file + " is larger than " + MAX_BYTES + " bytes");
      }
      String v = new String(bytes, StandardCharsets.US_ASCII).strip();
      if (v.isEmpty()) {
        throw new SourceConfigException("token file " + file + " is empty");
      }
      for (int i = 0; i < v.length(); i++) {
        char c = v.charAt(i);
        if (c <= 0x20 || c >= 0x7f) {
          throw new SourceConfigException("token file " + file
              + " holds characters that cannot go in an HTTP header (spaces, control or non-ASCII); "
              + "it must hold the token alone");
        }
      }
      return new BearerToken(v);
    } catch (IOException e) {
      throw new SourceConfigException("cannot read token file " + file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "BearerToken[redacted]";
  }
}
