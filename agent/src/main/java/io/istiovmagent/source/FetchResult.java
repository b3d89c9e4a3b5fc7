package io.istiovmagent.source;

import io.istiovmagent.bundle.RawBundle;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/** What a conditional fetch found: a bundle (with its validator and freshness hint), or no change since last time. */
public sealed interface FetchResult {
  /** A bundle, with the server's ETag (for the next If-None-Match) and Cache-Control max-age, when given. */
  record Fetched(RawBundle bundle, Optional<String> etag, Optional<Duration> maxAge) implements FetchResult {
    public Fetched {
      Objects.requireNonNull(bundle, "bundle == null");
      Objects.requireNonNull(etag, "etag == null");
      Objects.requireNonNull(maxAge, "maxAge == null");
    }
  }

  /** HTTP 304: the bundle is the one we hold; nothing to verify or write. */
  record NotModified(Optional<Duration> maxAge) implements FetchResult {}
}
