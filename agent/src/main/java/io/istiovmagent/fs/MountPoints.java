package io.istiovmagent.fs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The mount points of this process's mount namespace, from /proc/self/mountinfo. */
final class MountPoints {
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private MountPoints() {}

  /** Whether something is mounted at {@code p} (a real path: links resolved). */
  static boolean contains(Path p) throws IOException {
    String wanted = p.toString();
    for (String line : Files.readAllLines(MOUNTINFO, StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length > 4 && unescape(f[4]).equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  /** mountinfo writes space, tab, newline and backslash in a path as a backslash and three octal digits. */
  static String unescape(String field) {
    if (field.indexOf('\\') < 0) {
      return field;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = field.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '\\' && i + 3 < b.length && isOctal(b[i + 1]) && isOctal(b[i + 2]) && isOctal(b[i + 3])) {
        out.write((b[i + 1] - '0') * 64 + (b[i + 2] - '0') * 8 + (b[i + 3] - '0'));
        i += 3;
      } else {
        out.write(b[i]);
      }
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static boolean isOctal(byte c) {
    return c >= '0' && c <= '7';
  }
}
