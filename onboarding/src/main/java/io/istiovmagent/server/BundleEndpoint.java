package io.istiovmagent.server;

import java.util.List;
import java.util.Map;

/** GET /v1/bundle/{namespace}/{group}: the group's bundle as a gzip'd tar, with a strong ETag. */
final class BundleEndpoint {
  /** A refused directory is the operator's to fix; retrying every second would not help. */
  static final long RETRY_REFUSED_SECONDS = 30;

  private final BundleStore store;
  private final long maxAgeSeconds;

  BundleEndpoint(BundleStore store, long maxAgeSeconds) {
    this.store = store;
    this.maxAgeSeconds = maxAgeSeconds;
  }

  /** {@code namespace} and {@code group} are DNS labels, checked by the router before anything else. */
  Response get(Grant grant, String namespace, String group, List<String> ifNoneMatch) {
    String name = namespace + "/" + group;
    if (!(grant instanceof Grant.Group g) || !g.covers(namespace, group)) {
      return Response.error(403, "this join token is not for " + name + "; use the token issued for that "
          + "workload group");
    }
    BundleStore.Lookup found = store.lookup(namespace, group);
    if (found instanceof BundleStore.Lookup.Missing) {
      return Response.error(404, "no bundle for " + name + " yet; the operator writes it with istioctl x workload "
          + "entry configure -o <bundle directory>/" + name);
    }
    if (found instanceof BundleStore.Lookup.Unavailable) {
      // The reason names server paths; the operator has it in the log, the VM only needs to retry later.
      return Response.unavailable("the bundle for " + name + " cannot be served right now; the endpoint's log "
          + "says why", RETRY_REFUSED_SECONDS);
    }
    BundleStore.Served b = ((BundleStore.Lookup.Found) found).bundle();
    Map<String, String> cache = Map.of("ETag", b.etag(), "Cache-Control", "max-age=" + maxAgeSeconds);
    if (matches(ifNoneMatch, b.etag())) {
      return new Response(304, cache, null);
    }
    return new Response(200, cache, b.archive()).with("Content-Type", "application/gzip");
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
