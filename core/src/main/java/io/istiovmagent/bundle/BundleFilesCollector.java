package io.istiovmagent.bundle;

import java.util.EnumMap;
import java.util.Map;

/** The rules every source shares: known names only, no duplicates, per-file and total size limits. */
final class BundleFilesCollector {
  private final String where;
  private final Map<BundleFile, byte[]> files = new EnumMap<>(BundleFile.class);
  private long total;

  /** @param where how problems name the container ("archive", "directory") */
  BundleFilesCollector(String where) {
    this.where = where;
  }

  /** Checks a name and a declared size before any content is read. */
  BundleFile admit(String name, long size) throws BadBundleException {
    BundleFile f = BundleFile.byName(name).orElseThrow(() -> new BadBundleException(new Problem(where,
        "unknown-file", "'" + printable(name) + "' is not a bundle file; a bundle holds only "
            + BundleFile.knownNames())));
    if (files.containsKey(f)) {
      throw new BadBundleException(new Problem(where, "duplicate-file", f + " appears more than once"));
    }
    if (size > BundleLimits.MAX_FILE_BYTES) {
      throw new BadBundleException(new Problem(f.fileName(), "size-limit",
          "is " + size + " bytes; the limit for one bundle file is " + BundleLimits.MAX_FILE_BYTES));
    }
    if (total + size > BundleLimits.MAX_TOTAL_BYTES) {
      throw new BadBundleException(new Problem(where, "size-limit",
          "the bundle's files exceed " + BundleLimits.MAX_TOTAL_BYTES + " bytes in all"));
    }
    return f;
  }

  void add(BundleFile f, byte[] content) throws BadBundleException {
    total += content.length;
    if (total > BundleLimits.MAX_TOTAL_BYTES) {
      throw new BadBundleException(new Problem(where, "size-limit",
          "the bundle's files exceed " + BundleLimits.MAX_TOTAL_BYTES + " bytes in all"));
    }
    files.put(f, content);
  }

  RawBundle build() {
    return new RawBundle(files);
  }

  /** Names come from untrusted input: keep them printable and short in messages. */
  static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length() && sb.length() < 80; i++) {
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return sb.toString();
  }
}
