package io.istiovmagent.install;

import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.fs.UnsafePathException;
import io.istiovmagent.install.DiskState.Absent;
import io.istiovmagent.install.DiskState.Directory;
import io.istiovmagent.install.DiskState.Entry;
import io.istiovmagent.install.DiskState.Link;
import io.istiovmagent.install.DiskState.Other;
import io.istiovmagent.install.DiskState.Refused;
import io.istiovmagent.install.DiskState.Regular;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Reads what an install needs to know of the disk, and writes nothing: every directory opened the way
 * {@link RootFs#openDirectory} opens it (without creating any), every entry looked at without following it. A path
 * the agent would refuse to write through is an observation ({@link Refused}), not an error: the plan decides what
 * it means. Only an I/O error (a directory that cannot be read) fails the observation.
 */
final class DiskObserver {
  /** Files larger than this are not compared, only replaced: none of the bundle's comes near it. */
  static final int COMPARE_LIMIT = 1024 * 1024;
  static final String ETC_ISTIO = "/etc/istio";
  static final String VAR_LIB_ISTIO = "/var/lib/istio";

  private final RootFs fs;
  private final LastKnownGood lastKnownGood;

  DiskObserver(RootFs fs, LastKnownGood lastKnownGood) {
    this.fs = fs;
    this.lastKnownGood = lastKnownGood;
  }

  DiskState observe() throws IOException {
    Entry etcIstio = entry("/etc", "istio", false);
    // Without /etc/istio the plan makes it a link to /var/lib/istio first: look where that link will lead.
    boolean viaLink = etcIstio instanceof Absent;
    Map<String, Entry> dirs = new LinkedHashMap<>();
    dirs.put(VAR_LIB_ISTIO, directory(VAR_LIB_ISTIO));
    for (String d : Destination.DIRECTORIES) {
      dirs.put(d, directory(viaLink ? throughLink(d) : d));
    }
    Map<String, Entry> files = new LinkedHashMap<>();
    for (Destination d : Destination.values()) {
      String at = viaLink ? throughLink(d.path()) : d.path();
      files.put(d.path(), entry(Installer.parentOf(at), Installer.nameOf(at), true));
    }
    return new DiskState(files, dirs, etcIstio, hosts(), lastKnownGood());
  }

  /** What is at /etc/hosts: refused unless a regular file (the agent never writes through a link there). */
  Entry hosts() throws IOException {
    try (DirHandle etc = fs.openDirectory("/etc", false)) {
      Optional<String> text = Installer.readHosts(etc);
      if (text.isEmpty()) {
        return new Absent();
      }
      return new Regular(text.get().getBytes(StandardCharsets.ISO_8859_1), etc.ownerOf(Installer.HOSTS_NAME),
          etc.attributes(Installer.HOSTS_NAME).map(PosixFileAttributes::permissions).orElse(Installer.HOSTS_MODE));
    } catch (NoSuchFileException e) {
      return new Absent();
    } catch (UnsafePathException | NotDirectoryException e) {
      return refused(e);
    }
  }

  private DiskState.Stored lastKnownGood() {
    String path = fs.display(lastKnownGood.file());
    try {
      return new DiskState.Stored(path, lastKnownGood.load().<DiskState.StoredRecord>map(DiskState.Record::new)
          .orElse(new DiskState.NoRecord()));
    } catch (IOException | RuntimeException e) {
      return new DiskState.Stored(path, new DiskState.Unreadable(e.getMessage()));
    }
  }

  private static String throughLink(String path) {
    return path.equals(ETC_ISTIO) || path.startsWith(ETC_ISTIO + "/")
        ? VAR_LIB_ISTIO + path.substring(ETC_ISTIO.length()) : path;
  }

  /** A directory: opened itself (so a link on the way is judged as a write would judge it), owner read. */
  private Entry directory(String path) throws IOException {
    Entry there = entry(Installer.parentOf(path), Installer.nameOf(path), false);
    if (there instanceof Absent || there instanceof Refused) {
      return there;
    }
    try (DirHandle d = fs.openDirectory(path, false)) {
      return new Directory(d.ownerSelf());
    } catch (UnsafePathException | NotDirectoryException e) {
      return refused(e);
    } catch (NoSuchFileException e) {
      return new Refused(path + " is a symbolic link to a directory that does not exist (" + e.getMessage()
          + "): make it a directory and apply again", false);
    }
  }

  /**
   * What is at {@code name} in the directory {@code parent}. With {@code content}, a regular file's bytes (up to
   * {@link #COMPARE_LIMIT}), owner and mode; a directory where a file belongs is refused.
   */
  private Entry entry(String parent, String name, boolean content) throws IOException {
    try (DirHandle dir = fs.openDirectory(parent, false)) {
      Optional<PosixFileAttributes> a = dir.attributes(name);
      if (a.isEmpty()) {
        return new Absent();
      }
      if (a.get().isSymbolicLink()) {
        return new Link(linkTarget(dir, name));
      }
      if (a.get().isDirectory()) {
        return content ? new Refused(dir.child(name) + " is a directory where a file belongs", false)
            : new Directory(dir.ownerOf(name));
      }
      if (!a.get().isRegularFile()) {
        return new Other();
      }
      byte[] bytes = content ? dir.readRegular(name, COMPARE_LIMIT).orElse(null) : null;
      return new Regular(bytes != null && bytes.length <= COMPARE_LIMIT ? bytes : null, dir.ownerOf(name),
          a.get().permissions());
    } catch (NoSuchFileException e) {
      return new Absent();
    } catch (UnsafePathException | NotDirectoryException e) {
      return refused(e);
    }
  }

  /**
   * A directory on the way the agent would not write through: a link it does not follow (which a person must remove)
   * or a file where a directory belongs.
   */
  private static Refused refused(IOException e) {
    return new Refused(e.getMessage(), e instanceof UnsafePathException);
  }

  /** Path-based readlink (the JDK has no readlinkat): for the warning's text only, never to follow. */
  private static String linkTarget(DirHandle dir, String name) {
    try {
      return Files.readSymbolicLink(dir.path().resolve(name)).toString();
    } catch (IOException e) {
      return "";
    }
  }
}
