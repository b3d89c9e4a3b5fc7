package io.istiovmagent.install;

import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.UnsafePathException;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What an install needs to know of the disk, as {@link DiskObserver} saw it: the input of the pure
 * {@link InstallPlanner}. Nothing here is trusted for safety: a write re-checks through a {@link DirHandle}, so a
 * stale or fooled observation costs at most a repair that waits for the next pass, never a write through a link.
 *
 * @param files what is at each destination's system path (every {@link Destination})
 * @param directories what is at each directory istio-sidecar's files live in ({@link Destination#DIRECTORIES} and
 *     /var/lib/istio)
 * @param etcIstio what is at /etc/istio
 * @param hosts what is at /etc/hosts, its whole content when it is a regular file
 * @param lastKnownGood the stored record, and where it is (as a system path, for the report)
 */
record DiskState(Map<String, Entry> files, Map<String, Entry> directories, Entry etcIstio, Entry hosts,
    Stored lastKnownGood) {
  public DiskState {
    files = Map.copyOf(files);
    directories = Map.copyOf(directories);
    Objects.requireNonNull(etcIstio, "etcIstio == null");
    Objects.requireNonNull(hosts, "hosts == null");
    Objects.requireNonNull(lastKnownGood, "lastKnownGood == null");
  }

  Entry file(Destination d) {
    return files.getOrDefault(d.path(), new Absent());
  }

  Entry directory(String path) {
    return directories.getOrDefault(path, new Absent());
  }

  /** What is at one path, seen without following it. */
  public sealed interface Entry {}

  /** Nothing there, or a directory on the way is missing. */
  public record Absent() implements Entry {}

  /**
   * A regular file. {@code content} is null when it was not read, or is larger than the agent compares; the record
   * never prints it (it may be the token).
   */
  public record Regular(byte[] content, FileOwner owner, Set<PosixFilePermission> mode) implements Entry {
    public Regular {
      content = content == null ? null : content.clone();
      mode = Set.copyOf(mode);
    }

    boolean holds(byte[] wanted) {
      return content != null && Arrays.equals(content, wanted);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Regular r && Arrays.equals(content, r.content) && owner.equals(r.owner)
          && mode.equals(r.mode);
    }

    @Override
    public int hashCode() {
      return Objects.hash(Arrays.hashCode(content), owner, mode);
    }

    @Override
    public String toString() {
      return "Regular[" + (content == null ? "too large" : content.length + " bytes") + ", " + owner + ", " + mode
          + "]";
    }
  }

  /** A symbolic link, and where it points (for the warning that names it). */
  public record Link(String target) implements Entry {}

  /** A directory (a link on the way that root made in root's directory is followed to it), and its owner. */
  public record Directory(FileOwner owner) implements Entry {}

  /** Anything else: a fifo, a socket, a device. */
  public record Other() implements Entry {}

  /**
   * The path cannot be looked at safely: a link on the way that the agent does not follow, or a file where a
   * directory belongs. {@code unsafe} when it is a link ({@link UnsafePathException}).
   */
  public record Refused(String reason, boolean unsafe) implements Entry {}

  /** The last-known-good record as stored, at its system path. */
  public record Stored(String path, StoredRecord record) {}

  /** What the last-known-good file holds. */
  public sealed interface StoredRecord {}

  public record NoRecord() implements StoredRecord {}

  public record Record(LastKnownGood.Record value) implements StoredRecord {}

  /** A file that cannot be read as a record (damaged, another format, a link): the next save replaces it. */
  public record Unreadable(String reason) implements StoredRecord {}
}
