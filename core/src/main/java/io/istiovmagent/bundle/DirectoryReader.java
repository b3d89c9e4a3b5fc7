package io.istiovmagent.bundle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/** Reads a bundle from a directory such as the one `istioctl x workload entry configure -o DIR` writes. */
public final class DirectoryReader {
  private static final String WHERE = "directory";

  private DirectoryReader() {}

  public static RawBundle read(Path dir) throws IOException, BadBundleException {
    BundleFilesCollector files = new BundleFilesCollector(WHERE);
    List<Path> entries = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        entries.add(p);
        if (entries.size() > BundleLimits.MAX_ARCHIVE_ENTRIES) {
          throw new BadBundleException(new Problem(WHERE, "too-many-entries",
              dir + " holds more than " + BundleLimits.MAX_ARCHIVE_ENTRIES + " entries"));
        }
      }
    }
    entries.sort(null);
    for (Path p : entries) {
      String name = p.getFileName().toString();
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (a.isSymbolicLink()) {
        throw new BadBundleException(new Problem(WHERE, "link",
            "'" + BundleFilesCollector.printable(name) + "' is a symbolic link; a bundle holds regular files only"));
      }
      if (!a.isRegularFile()) {
        throw new BadBundleException(new Problem(WHERE, a.isDirectory() ? "nested-path" : "special-file",
            "'" + BundleFilesCollector.printable(name) + "' is not a regular file; a bundle holds regular files only"));
      }
      if (linkCount(p) > 1) {
        throw new BadBundleException(new Problem(WHERE, "link", "'" + BundleFilesCollector.printable(name)
            + "' is a hard link (the file has another name elsewhere); a bundle holds regular files only"));
      }
      BundleFile f = files.admit(name, a.size());
      byte[] content;
      try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
        content = CappedStream.readAll(in, BundleLimits.MAX_FILE_BYTES);
      } catch (CappedStream.LimitExceeded e) {
        throw new BadBundleException(new Problem(f.fileName(), "size-limit",
            "grew past " + BundleLimits.MAX_FILE_BYTES + " bytes while being read"));
      }
      files.add(f, content);
    }
    return files.build();
  }

  /** The number of names the file has; 1 where the file system cannot tell. */
  private static int linkCount(Path p) throws IOException {
    try {
      return (Integer) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return 1;
    }
  }
}
