package io.istiovmagent.bundle;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The files of a bundle as received, not yet verified. The same files give the same {@link #revision()} whether
 * they came from a directory, an archive or HTTPS.
 */
public final class RawBundle {
  private final Map<BundleFile, byte[]> files;
  private final String revision;
  private final String configRevision;

  public RawBundle(Map<BundleFile, byte[]> files) {
    EnumMap<BundleFile, byte[]> copy = new EnumMap<>(BundleFile.class);
    files.forEach((k, v) -> copy.put(k, v.clone()));
    this.files = Collections.unmodifiableMap(copy);
    this.revision = computeRevision(copy);
    EnumMap<BundleFile, byte[]> config = new EnumMap<>(copy);
    config.remove(BundleFile.TOKEN);
    this.configRevision = computeRevision(config);
  }

  public Optional<byte[]> file(BundleFile f) {
    byte[] b = files.get(f);
    return b == null ? Optional.empty() : Optional.of(b.clone());
  }

  public boolean has(BundleFile f) {
    return files.containsKey(f);
  }

  /** The files, read-only; callers must not modify the arrays. */
  public Map<BundleFile, byte[]> files() {
    return files;
  }

  /** {@code sha256:HEX} over every file's name, length and content, in a fixed order. */
  public String revision() {
    return revision;
  }

  /**
   * The revision of every file but the token, {@code sha256:HEX} as {@link #revision()}: what changes when the
   * group's configuration changes, and not when a service hands out a freshly minted token (docs/protocol.md,
   * "Minted tokens").
   */
  public String configRevision() {
    return configRevision;
  }

  private static String computeRevision(Map<BundleFile, byte[]> files) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (BundleFile f : BundleFile.values()) {
        byte[] content = files.get(f);
        if (content == null) {
          continue;
        }
        md.update(f.fileName().getBytes(StandardCharsets.US_ASCII));
        md.update((byte) 0);
        md.update(Long.toString(content.length).getBytes(StandardCharsets.US_ASCII));
        md.update((byte) 0);
        md.update(content);
      }
      return "sha256:" + HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
    }
  }

  /** Never prints content: the bundle holds a credential. */
  @Override
  public String toString() {
    return "RawBundle{" + files.keySet() + ", " + revision + "}";
  }
}
