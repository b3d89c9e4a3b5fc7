package io.istiovmagent.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * One request to the Kubernetes API as the API server's audit log would name it: its verb (GET of one object, LIST,
 * WATCH, POST, PUT, PATCH, DELETE) and its resource with any subresource ({@code workloadentries/status},
 * {@code serviceaccounts/token}). Pure: from the method and the request path with its query.
 */
record ApiRequest(String verb, String resource) {
  /** The verbs counted, in the order tables show them. */
  static final List<String> VERBS = List.of("GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE");

  /** Whether it changes what the API server stores (a TokenRequest is a POST that stores nothing: see P7). */
  boolean write() {
    return switch (verb) {
      case "POST", "PUT", "PATCH", "DELETE" -> !resource.equals("serviceaccounts/token");
      default -> false;
    };
  }

  /**
   * {@code method} and {@code pathAndQuery} ({@code /api/v1/namespaces/NS/secrets/NAME},
   * {@code /apis/GROUP/VERSION/RESOURCE?watch=true}, ...): a GET of a collection is a LIST, one with
   * {@code watch=true} (or {@code 1}) a WATCH; a DELETE of a collection stays a DELETE. A path outside the resource
   * API ({@code /version}, discovery) is resource {@code other}.
   */
  static ApiRequest of(String method, String pathAndQuery) {
    String m = method.toUpperCase(java.util.Locale.ROOT);
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    String query = q < 0 ? "" : pathAndQuery.substring(q + 1);
    List<String> seg = new ArrayList<>();
    for (String s : path.split("/")) {
      if (!s.isEmpty()) {
        seg.add(s);
      }
    }
    // /api/v1/... (the core group) or /apis/GROUP/VERSION/...; anything shorter is discovery.
    int from = seg.size() >= 2 && seg.get(0).equals("api") ? 2
        : seg.size() >= 3 && seg.get(0).equals("apis") ? 3 : -1;
    if (from < 0 || seg.size() <= from) {
      return new ApiRequest(m.equals("GET") ? "GET" : m, "other");
    }
    List<String> rest = seg.subList(from, seg.size());
    if (rest.get(0).equals("namespaces") && rest.size() >= 3) {
      rest = rest.subList(2, rest.size()); // namespaces/NS/RESOURCE...; namespaces/NAME alone is the namespace
    }
    String resource = rest.get(0) + (rest.size() >= 3 ? "/" + rest.get(2) : "");
    boolean named = rest.size() >= 2;
    String verb = switch (m) {
      case "GET" -> watch(query) ? "WATCH" : named ? "GET" : "LIST";
      default -> m;
    };
    return new ApiRequest(verb, resource);
  }

  private static boolean watch(String query) {
    for (String p : query.split("&")) {
      if (p.equals("watch=true") || p.equals("watch=1")) {
        return true;
      }
    }
    return false;
  }
}
