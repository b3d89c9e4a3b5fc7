package io.istiovmagent.fs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An open directory, and every operation on a name in it done relative to that handle (openat, renameat, fchown on
 * an fd opened with O_NOFOLLOW: the JDK's {@link SecureDirectoryStream} on Linux). Whatever is swapped in on the
 * path after the directory was opened, a write or a chown through the handle lands in this directory, and a name
 * that has become a symbolic link fails (ELOOP) instead of being followed.
 */
public final class DirHandle implements Closeable {
  private static final Set<PosixFilePermission> GROUP_OR_OTHER_WRITE =
      Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);
  private static final int STICKY = 01000;
  private static final Map<Integer, UserPrincipal> USERS = new ConcurrentHashMap<>();
  private static final Map<Integer, GroupPrincipal> GROUPS = new ConcurrentHashMap<>();

  private final SecureDirectoryStream<Path> dir;
  private final Path path;
  private final String systemPath;
  private final boolean pathStable;
  private final PosixFileAttributes self;

  private DirHandle(SecureDirectoryStream<Path> dir, Path path, String systemPath, boolean pathStable)
      throws IOException {
    this.dir = dir;
    this.path = path;
    this.systemPath = systemPath;
    this.pathStable = pathStable;
    try {
      this.self = dir.getFileAttributeView(PosixFileAttributeView.class).readAttributes();
    } catch (IOException e) {
      dir.close();
      throw e;
    }
  }

  /** Opens a root prefix, following links to it: whoever chose the prefix vouches for the path to it. */
  static DirHandle openRoot(Path root) throws IOException {
    DirectoryStream<Path> ds = Files.newDirectoryStream(root);
    if (!(ds instanceof SecureDirectoryStream<Path> sds)) {
      ds.close();
      throw new IOException("this platform offers no openat-style directory access (SecureDirectoryStream); the "
          + "agent writes as root only through one");
    }
    return new DirHandle(sds, root, "/", true);
  }

  /** Opens the directory {@code name} in this one, never through a symbolic link (O_NOFOLLOW). */
  DirHandle openChild(String name) throws IOException {
    SecureDirectoryStream<Path> child = dir.newDirectoryStream(Path.of(name), LinkOption.NOFOLLOW_LINKS);
    return new DirHandle(child, path.resolve(name), child(name), chainTrusted());
  }

  /** Where this directory is on the host: for messages, and for the few path-based calls the JDK lacks an -at for. */
  public Path path() {
    return path;
  }

  /** This directory as the system under the root sees it, links resolved: "/var/lib/istio". */
  public String systemPath() {
    return systemPath;
  }

  /** The system path of an entry in this directory. */
  public String child(String name) {
    return systemPath.equals("/") ? "/" + name : systemPath + "/" + name;
  }

  /**
   * Whether only a trusted user (root, or the agent's own user) can create, rename or remove entries here that a
   * trusted user did not make: owned by one, and writable by neither group nor others, or sticky (/tmp: there
   * others may add entries but not rename or remove ours, and their links are theirs, which are never followed).
   */
  public boolean trusted() throws IOException {
    if (!TrustedUsers.isTrusted(self.owner())) {
      return false;
    }
    if (self.permissions().stream().noneMatch(GROUP_OR_OTHER_WRITE::contains)) {
      return true;
    }
    // The JDK shows the sticky bit only by path; sound only while no one else can re-point the path.
    return pathStable && ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & STICKY) != 0;
  }

  /** This directory and every one above it up to the root prefix are trusted: no one else can re-point its path. */
  boolean chainTrusted() throws IOException {
    return pathStable && trusted();
  }

  /** Who owns this directory and who may write it, for messages. */
  public String describeOwnership() {
    return "owned by " + self.owner().getName() + ", mode " + PosixFilePermissions.toString(self.permissions());
  }

  /** What is at {@code name} itself (lstat); empty when nothing is. */
  public Optional<PosixFileAttributes> attributes(String name) throws IOException {
    try {
      return Optional.of(view(name).readAttributes());
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /** The bytes of the regular file {@code name}, at most limit + 1 of them; empty when it is not a regular file. */
  public Optional<byte[]> readRegular(String name, int limit) throws IOException {
    Optional<PosixFileAttributes> a = attributes(name);
    if (a.isEmpty() || !a.get().isRegularFile()) {
      return Optional.empty();
    }
    try (SeekableByteChannel ch = dir.newByteChannel(Path.of(name),
        Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
      return Optional.of(Channels.newInputStream(ch).readNBytes(limit + 1));
    }
  }

  /**
   * The numeric owner and group of {@code name} itself, for writing it back as it was. Read by path (the JDK's
   * handle-relative attributes name users, not numbers): a stat only, never followed by a write through the path.
   */
  public FileOwner ownerOf(String name) throws IOException {
    Path p = path.resolve(name);
    return new FileOwner("(as before)", (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS),
        (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS));
  }

  /** The numeric owner and group of this directory itself, as {@link #ownerOf} reads them: a stat only. */
  public FileOwner ownerSelf() throws IOException {
    return new FileOwner("(as before)", (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS),
        (Integer) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS));
  }

  /** Creates {@code name} exclusively (O_CREAT|O_EXCL|O_NOFOLLOW) and opens it for writing. */
  FileChannel createNew(String name, FileAttribute<?> mode) throws IOException {
    return (FileChannel) dir.newByteChannel(Path.of(name),
        Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), mode);
  }

  /** Opens the existing {@code name} for writing, failing (ELOOP) if it is a symbolic link. */
  FileChannel openForWriting(String name) throws IOException {
    Set<OpenOption> options = Set.of(StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
    return (FileChannel) dir.newByteChannel(Path.of(name), options);
  }

  /** Sets owner and group of {@code name} (fchown), when they differ; changing nothing keeps ctime as it was. */
  public boolean chown(String name, FileOwner owner) throws IOException {
    return chown(view(name), owner);
  }

  /** Sets owner and group of this directory itself (fchown on its handle), when they differ. */
  public boolean chownSelf(FileOwner owner) throws IOException {
    return chown(dir.getFileAttributeView(PosixFileAttributeView.class), owner);
  }

  /** Sets the mode of {@code name} (fchmod on an O_NOFOLLOW fd), when it differs. */
  public boolean chmod(String name, Set<PosixFilePermission> mode) throws IOException {
    return chmod(view(name), mode);
  }

  /** Sets the mode of this directory itself, when it differs. */
  public boolean chmodSelf(Set<PosixFilePermission> mode) throws IOException {
    return chmod(dir.getFileAttributeView(PosixFileAttributeView.class), mode);
  }

  /** Renames {@code from} over {@code to} in this directory (renameat): a link at {@code to} is itself replaced. */
  void rename(String from, String to) throws IOException {
    dir.move(Path.of(from), dir, Path.of(to));
  }

  public void delete(String name) throws IOException {
    dir.deleteFile(Path.of(name));
  }

  /** Flushes this directory's entries (a rename in it) to disk. */
  void fsync() throws IOException {
    try (FileChannel ch = (FileChannel) dir.newByteChannel(Path.of("."), Set.of(StandardOpenOption.READ))) {
      ch.force(true);
    }
  }

  /**
   * Creates the directory {@code name} here, owned by the caller (root), 0755 whatever the umask. The JDK has no
   * mkdirat, so this goes by path, which is sound only while no one but root can re-point that path: refused
   * otherwise.
   */
  public void mkdir(String name) throws IOException {
    if (!pathStable) {
      throw new UnsafePathException("cannot create " + child(name) + " safely: a directory above "
          + systemPath + " can be changed by a user other than root; create it by hand and apply again");
    }
    Files.createDirectory(path.resolve(name));
    chmod(name, Dirs.PUBLIC);
  }

  /** Creates the symbolic link {@code name} here; by path, under the same condition as {@link #mkdir}. */
  public void symlink(String name, String target) throws IOException {
    if (!pathStable) {
      throw new UnsafePathException("cannot create " + child(name) + " safely: a directory above "
          + systemPath + " can be changed by a user other than root; create it by hand and apply again");
    }
    Files.createSymbolicLink(path.resolve(name), Path.of(target));
  }

  /** Whether {@code name} is a mount point here (a bind-mounted file: renaming over it fails with EBUSY). */
  boolean isMountPoint(String name) throws IOException {
    return MountPoints.contains(path.toRealPath().resolve(name));
  }

  @Override
  public void close() throws IOException {
    dir.close();
  }

  private PosixFileAttributeView view(String name) {
    return dir.getFileAttributeView(Path.of(name), PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
  }

  private static boolean chown(PosixFileAttributeView view, FileOwner owner) throws IOException {
    PosixFileAttributes a = view.readAttributes();
    boolean changed = false;
    UserPrincipal user = user(owner.uid());
    if (!a.owner().equals(user)) {
      view.setOwner(user);
      changed = true;
    }
    GroupPrincipal group = group(owner.gid());
    if (!a.group().equals(group)) {
      view.setGroup(group);
      changed = true;
    }
    return changed;
  }

  private static boolean chmod(PosixFileAttributeView view, Set<PosixFilePermission> mode) throws IOException {
    if (view.readAttributes().permissions().equals(mode)) {
      return false;
    }
    view.setPermissions(mode);
    return true;
  }

  /**
   * The principal for a numeric uid. The JDK looks a name up first and takes a string of digits as the number when
   * no user has that name (no system allows an all-digit user name), so a uid that exists only in the root
   * prefix's /etc/passwd, not on the host, still works.
   */
  static UserPrincipal user(int uid) throws IOException {
    UserPrincipal p = USERS.get(uid);
    if (p == null) {
      p = lookup().lookupPrincipalByName(Integer.toString(uid));
      USERS.put(uid, p);
    }
    return p;
  }

  static GroupPrincipal group(int gid) throws IOException {
    GroupPrincipal p = GROUPS.get(gid);
    if (p == null) {
      p = lookup().lookupPrincipalByGroupName(Integer.toString(gid));
      GROUPS.put(gid, p);
    }
    return p;
  }

  private static UserPrincipalLookupService lookup() {
    return FileSystems.getDefault().getUserPrincipalLookupService();
  }
}
