package io.istiovmagent.bundle;

/** Where a bundle comes from. Implementations fetch bytes; they never verify or write. */
public interface BundleSource {
  /** Reads the bundle. Archive-level problems (not a tar, unknown names, too big) are {@link BadBundleException}. */
  RawBundle fetch() throws SourceException, BadBundleException;

  /** For messages and the last-known-good record: never contains a credential. */
  String describe();
}
