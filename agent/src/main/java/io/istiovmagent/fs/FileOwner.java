package io.istiovmagent.fs;

/** A user and group that files are owned by, as numbers valid inside the root. */
public record FileOwner(String name, int uid, int gid) {
  public static final FileOwner ROOT = new FileOwner("root", 0, 0);
}
