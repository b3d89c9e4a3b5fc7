package io.istiovmagent.source;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.RawBundle;
import java.util.Optional;

/** Where a bundle comes from. Implementations fetch bytes; they never verify or write. */
public interface BundleSource {
  /** Reads the bundle. Archive-level problems (not a tar, unknown names, too big) are {@link BadBundleException}. */
  default RawBundle fetch() throws SourceException, BadBundleException {
    return ((FetchResult.Fetched) fetch(Optional.empty())).bundle();
  }

  /**
   * Reads the bundle unless it is unchanged since the fetch that returned {@code etag}; sources without validators
   * always read it (the installer then finds nothing to write).
   */
  FetchResult fetch(Optional<String> etag) throws SourceException, BadBundleException;

  /** For messages and the last-known-good record: never contains a credential. */
  String describe();
}
