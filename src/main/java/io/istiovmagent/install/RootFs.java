package io.istiovmagent.install;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * The system seen from a root prefix: `/` in production, a temporary directory in tests and the demo. Absolute
 * paths resolve under the root and symlinks are followed the way they would be after chroot: an absolute link
 * target means root-relative, and {@code ..} never climbs above the root.
 */
public final class RootFs {
  private static final int MAX_LINKS = 40;
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

  /** Where an absolute system path really is under the root, following every symlink that exists on the way. */
  public Path resolve(String absolute) throws IOException {
    requireAbsolute(absolute);
    Deque<String> todo = new ArrayDeque<>(parts(absolute));
    List<String> done = new ArrayList<>();
    int links = 0;
    while (!todo.isEmpty()) {
      String part = todo.pollFirst();
      if (part.equals("..")) {
        if (!done.isEmpty()) {
          done.remove(done.size() - 1);
        }
        continue;
      }
      Path candidate = toPath(done).resolve(part);
      if (Files.isSymbolicLink(candidate)) {
        if (++links > MAX_LINKS) {
          throw new IOException("too many levels of symbolic links resolving " + absolute + " under " + root);
        }
        String target = Files.readSymbolicLink(candidate).toString();
        List<String> targetParts = parts(target);
        for (int i = targetParts.size() - 1; i >= 0; i--) {
          todo.addFirst(targetParts.get(i));
        }
        if (target.startsWith("/")) {
          done.clear();
        }
        continue;
      }
      done.add(part);
    }
    return toPath(done);
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

  private Path toPath(List<String> parts) {
    Path p = root;
    for (String s : parts) {
      p = p.resolve(s);
    }
    return p;
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
