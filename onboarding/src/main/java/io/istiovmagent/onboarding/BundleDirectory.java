package io.istiovmagent.onboarding;

import io.istiovmagent.bundle.BundleFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * Writes a bundle into a directory as istioctl's {@code -o} does, without its defects: the token readable by its
 * owner only (0600), the rest 0644, where istioctl writes all five 0744; each file replaced atomically (a temporary
 * file beside it, synced, then renamed over it), so a reader never sees half a file and a symbolic link planted
 * where a file goes is replaced, not followed.
 */
final class BundleDirectory {
  private static final Set<PosixFilePermission> SECRET = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> PUBLIC = PosixFilePermissions.fromString("rw-r--r--");

  private BundleDirectory() {}

  static void write(Path dir, Map<BundleFile, byte[]> files) throws IOException {
    if (!Files.isDirectory(dir)) {
      if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
        throw new FileAlreadyExistsException(dir.toString(), null, "exists and is not a directory");
      }
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    }
    for (BundleFile f : BundleFile.values()) {
      byte[] content = files.get(f);
      if (content != null) {
        replace(dir.resolve(f.fileName()), content, f == BundleFile.TOKEN ? SECRET : PUBLIC);
      }
    }
  }

  private static void replace(Path target, byte[] content, Set<PosixFilePermission> mode) throws IOException {
    // Created with its final mode: the token is never readable by others, not even for a moment.
    Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(mode));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer b = ByteBuffer.wrap(content);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      Files.setPosixFilePermissions(tmp, mode); // the umask may have narrowed it; never widened beyond mode
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
