package io.istiovmagent.server;

import java.util.List;
import java.util.Map;

/** GET /v1/bundle/{namespace}/{group}: the group's bundle as a gzip'd tar, with a strong ETag. */
final class BundleEndpoint {
  private final BundleProvider bundles;
  private final long maxAgeSeconds;

  BundleEndpoint(BundleProvider bundles, long maxAgeSeconds) {
    this.bundles = bundles;
    this.maxAgeSeconds = maxAgeSeconds;
  }

  /** {@code namespace} and {@code group} are DNS labels, checked by the router before anything else. */
  Response get(Grant grant, String namespace, String group, List<String> ifNoneMatch) {
    String name = namespace + "/" + group;
    if (!(grant instanceof Grant.Workload g) || !g.covers(namespace, group)) {
      return Response.error(403, "this join token is not for " + name + "; use the token issued for that "
          + "workload group");
    }
    BundleProvider.Lookup found = bundles.lookup(namespace, group, Grant.machineOf(g), ifNoneMatch);
    if (found instanceof BundleProvider.Lookup.Missing m) {
      return Response.error(404, m.reason());
    }
    if (found instanceof BundleProvider.Lookup.Unavailable u) {
      return Response.unavailable(u.reason(), u.retryAfterSeconds());
    }
    if (found instanceof BundleProvider.Lookup.NotModified n) {
      return new Response(304, cacheHeaders(n.etag()), null);
    }
    BundleProvider.Lookup.Found f = (BundleProvider.Lookup.Found) found;
    return new Response(200, cacheHeaders(f.etag()), f.archive()).with("Content-Type", "application/gzip");
  }

  private Map<String, String> cacheHeaders(String etag) {
    return Map.of("ETag", etag, "Cache-Control", "max-age=" + maxAgeSeconds);
  }

  /** If-None-Match: a list of entity tags or "*", compared weakly as RFC 9110 says for this header. */
  static boolean matches(List<String> ifNoneMatch, String etag) {
    if (ifNoneMatch == null) {
      return false;
    }
    for (String header : ifNoneMatch) {
      for (String tag : header.split(",")) {
        String t = tag.strip();
        if (t.startsWith("W/")) {
          t = t.substring(2);
        }
        if (t.equals("*") || t.equals(etag)) {
          return true;
        }
      }
    }
    return false;
  }
}
