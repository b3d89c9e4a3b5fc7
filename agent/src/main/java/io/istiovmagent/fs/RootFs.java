package io.istiovmagent.fs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * The system seen from a root prefix: `/` in production, a temporary directory in tests and the demo. Absolute
 * paths resolve under the root and the symlinks the agent follows at all are followed the way they would be after
 * chroot: an absolute link target means root-relative, and {@code ..} never climbs above the root.
 */
public final class RootFs {
  private static final int MAX_LINKS = 40;
  /** The machine itself: for the agent's own state and runtime files, which it names by host path. */
  public static final RootFs HOST = new RootFs(Path.of("/"));
  private final Path root;

  public RootFs(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** Where an absolute system path lives under the root, without following links. */
  public Path lexical(String absolute) {
    requireAbsolute(absolute);
    Path p = root;
    for (String part : absolute.split("/")) {
      if (!part.isEmpty() && !part.equals(".")) {
        p = part.equals("..") ? (p.equals(root) ? root : p.getParent()) : p.resolve(part);
      }
    }
    return p;
  }

  /**
   * Where an absolute system path really is under the root: the directories on the way resolved the way {@link
   * #openDirectory} resolves them (only symbolic links root made in root's own directories are followed), the last
   * component never followed. For looking (stat, stamps); a write goes through a {@link DirHandle}.
   */
  public Path resolve(String absolute) throws IOException {
    requireAbsolute(absolute);
    List<String> parts = parts(absolute);
    if (parts.isEmpty()) {
      return root;
    }
    String name = parts.get(parts.size() - 1);
    if (name.equals("..")) {
      try (DirHandle dir = openDirectory(absolute, false)) {
        return dir.path();
      }
    }
    String parent = "/" + String.join("/", parts.subList(0, parts.size() - 1));
    try (DirHandle dir = openDirectory(parent, false)) {
      return dir.path().resolve(name);
    } catch (NoSuchFileException e) {
      return resolve(parent).resolve(name);
    }
  }

  /**
   * Opens the directory at an absolute system path, from the root prefix down, each component without following
   * links (O_NOFOLLOW), so that nothing swapped in later can redirect what is done through the handle. A symbolic
   * link on the way is followed only when nobody but root (or the agent's own user) could have made it: the link is
   * theirs and sits in a directory that is theirs, writable by neither group nor others, all the way up. That is
   * {@code /etc/istio -> /var/lib/istio} (istio-sidecar's postinst) and Debian's {@code /var/run -> /run}; a link in
   * a directory istio-proxy owns is refused with an {@link UnsafePathException} naming it.
   *
   * @param create whether to create missing directories (root's, 0755) on the way
   */
  public DirHandle openDirectory(String absolute, boolean create) throws IOException {
    requireAbsolute(absolute);
    Deque<String> todo = new ArrayDeque<>(parts(absolute));
    Deque<DirHandle> open = new ArrayDeque<>();
    open.push(DirHandle.openRoot(root));
    int links = 0;
    try {
      while (!todo.isEmpty()) {
        String part = todo.pollFirst();
        DirHandle cur = open.peek();
        if (part.equals("..")) {
          if (open.size() > 1) {
            open.pop().close();
          }
          continue;
        }
        Optional<PosixFileAttributes> a = cur.attributes(part);
        if (a.isEmpty()) {
          if (!create) {
            throw new NoSuchFileException(cur.child(part) + " under " + root);
          }
          cur.mkdir(part);
        } else if (a.get().isSymbolicLink()) {
          if (++links > MAX_LINKS) {
            throw new IOException("too many levels of symbolic links resolving " + absolute + " under " + root);
          }
          String target = followable(cur, part, a.get(), absolute);
          List<String> targetParts = parts(target);
          for (int i = targetParts.size() - 1; i >= 0; i--) {
            todo.addFirst(targetParts.get(i));
          }
          if (target.startsWith("/")) {
            while (open.size() > 1) {
              open.pop().close();
            }
          }
          continue;
        } else if (!a.get().isDirectory()) {
          throw new NotDirectoryException(cur.child(part) + " under " + root + " is not a directory");
        }
        open.push(cur.openChild(part));
      }
      return open.pop();
    } finally {
      for (DirHandle d : open) {
        d.close();
      }
    }
  }

  /**
   * The bytes of a file only root (or the agent's own user) can have written, for a file whose content the agent
   * trusts (the system's CA store): empty when nothing is at the path. The directories on the way resolve as in
   * {@link #openDirectory}; a symbolic link in the last place is followed under the same rule (root's link in a
   * directory only root can change), never one another user could have planted. The file must be a regular file
   * owned by root (or the agent's user), writable by neither group nor others, in a directory only they can change:
   * else an {@link UnsafePathException} naming it. Read through the directory's handle (O_NOFOLLOW), at most
   * {@code limit} bytes (more is an error).
   */
  public Optional<byte[]> readTrusted(String absolute, int limit) throws IOException {
    String path = absolute;
    for (int links = 0; ; links++) {
      List<String> p = parts(path);
      if (p.isEmpty()) {
        throw new IOException(absolute + " under " + root + " is not a regular file");
      }
      String name = p.get(p.size() - 1);
      String parent = "/" + String.join("/", p.subList(0, p.size() - 1));
      try (DirHandle dir = openDirectory(parent, false)) {
        Optional<PosixFileAttributes> a = dir.attributes(name);
        if (a.isEmpty()) {
          return Optional.empty();
        }
        if (a.get().isSymbolicLink()) {
          if (links >= MAX_LINKS) {
            throw new IOException("too many levels of symbolic links resolving " + absolute + " under " + root);
          }
          String target = followable(dir, name, a.get(), absolute, "Remove it (rm " + dir.child(name)
              + ") and put the file itself there, as root");
          path = target.startsWith("/") ? target : dir.systemPath() + "/" + target;
          continue;
        }
        if (!a.get().isRegularFile()) {
          throw new IOException(dir.child(name) + " under " + root + " is not a regular file");
        }
        if (!TrustedUsers.isTrusted(a.get().owner()) || a.get().permissions().stream().anyMatch(
            perm -> perm == PosixFilePermission.GROUP_WRITE || perm == PosixFilePermission.OTHERS_WRITE)) {
          throw new UnsafePathException(dir.child(name) + " is owned by " + a.get().owner().getName() + ", mode "
              + PosixFilePermissions.toString(a.get().permissions()) + ": a user other than root could change it, "
              + "so the agent does not trust its content. Make it root's and not writable by others (chown root:root "
              + dir.child(name) + "; chmod 644 " + dir.child(name) + ")");
        }
        if (!dir.chainTrusted()) {
          throw new UnsafePathException(dir.child(name) + " is in " + dir.systemPath() + ", which a user other than "
              + "root can change (" + dir.describeOwnership() + ", or a directory above it): the agent does not trust "
              + "a file there. Make the directory root's and not writable by others");
        }
        Optional<byte[]> bytes = dir.readRegular(name, limit);
        if (bytes.isEmpty()) {
          throw new IOException(dir.child(name) + " under " + root + " changed while it was read; try again");
        }
        if (bytes.get().length > limit) {
          throw new IOException(dir.child(name) + " is larger than " + limit + " bytes");
        }
        return bytes;
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
    }
  }

  /** The target of the link {@code name} in {@code dir}, if the agent may follow it; else why not, as an error. */
  private static String followable(DirHandle dir, String name, PosixFileAttributes link, String resolving)
      throws IOException {
    return followable(dir, name, link, resolving, "Remove it (a directory belongs there: rm " + dir.child(name)
        + ") and apply again");
  }

  private static String followable(DirHandle dir, String name, PosixFileAttributes link, String resolving,
      String remedy) throws IOException {
    String what = dir.child(name) + (dir.child(name).equals(resolving) ? "" : " (on the way to " + resolving + ")");
    if (!TrustedUsers.isTrusted(link.owner())) {
      throw new UnsafePathException(what + " is a symbolic link owned by " + link.owner().getName()
          + ", not root: the agent does not follow it. " + remedy);
    }
    if (!dir.chainTrusted()) {
      throw new UnsafePathException(what + " is a symbolic link in " + dir.systemPath()
          + ", which a user other than root can change (" + dir.describeOwnership() + ", or a directory above it): "
          + "the agent does not follow it. " + remedy);
    }
    // Path-based readlink (the JDK has no readlinkat) is sound here: only root can re-point this path.
    return Files.readSymbolicLink(dir.path().resolve(name)).toString();
  }

  /** The system path a path under the root stands for, for messages: "/etc/hosts". */
  public String display(Path underRoot) {
    Path rel = root.relativize(underRoot.toAbsolutePath().normalize());
    return "/" + rel.toString().replace('\\', '/');
  }

  /** A user from ROOT/etc/passwd, the way the VM itself would see it. */
  public Optional<FileOwner> user(String name) throws IOException {
    Path passwd = root.resolve("etc/passwd");
    if (!Files.isRegularFile(passwd)) {
      return Optional.empty();
    }
    for (String line : Files.readAllLines(passwd, StandardCharsets.UTF_8)) {
      String[] f = line.split(":", -1);
      if (f.length >= 4 && f[0].equals(name)) {
        try {
          return Optional.of(new FileOwner(name, Integer.parseInt(f[2]), Integer.parseInt(f[3])));
        } catch (NumberFormatException e) {
          throw new IOException(passwd + " has a malformed entry for " + name);
        }
      }
    }
    return Optional.empty();
  }

  public boolean exists(Path p) {
    return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
  }

  private static List<String> parts(String path) {
    List<String> out = new ArrayList<>();
    for (String s : path.split("/")) {
      if (!s.isEmpty() && !s.equals(".")) {
        out.add(s);
      }
    }
    return out;
  }

  private static void requireAbsolute(String p) {
    if (!p.startsWith("/")) {
      throw new IllegalArgumentException("system paths are absolute: " + p);
    }
  }
}
