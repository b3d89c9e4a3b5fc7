package io.istiovmagent.bundle;

/** Size limits for everything that arrives as a bundle, enforced while reading. */
public final class BundleLimits {
  /** One file of the bundle. */
  public static final int MAX_FILE_BYTES = 256 * 1024;
  /** All files of the bundle together; also the most a compressed archive or HTTP body may be. */
  public static final int MAX_TOTAL_BYTES = 1024 * 1024;
  /** mesh.yaml is parsed as YAML, so it gets a tighter limit. */
  public static final int MAX_MESH_BYTES = 64 * 1024;
  /** Entries in an archive (files, directories, extended headers). */
  public static final int MAX_ARCHIVE_ENTRIES = 64;

  private BundleLimits() {}
}
