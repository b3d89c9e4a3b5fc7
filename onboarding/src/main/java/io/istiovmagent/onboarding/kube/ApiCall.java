package io.istiovmagent.onboarding.kube;

import java.net.URI;
import java.util.Arrays;
import java.util.Locale;

/**
 * A request to the Kubernetes API as the metrics count it: its verb (as the API server's own audit names it: get,
 * list, watch, create, update, patch, delete, deletecollection) and its resource with any subresource
 * ({@code secrets}, {@code serviceaccounts/token}, {@code workloadentries/status}). Namespaces and names are left
 * out: they are unbounded, and a name may carry a VM's machine id. Pure.
 */
record ApiCall(String verb, String resource) {
  /** What a path outside {@code /api} and {@code /apis} (e.g. {@code /version}) counts under. */
  static final String NON_RESOURCE = "nonresource";

  static ApiCall of(String method, URI uri) {
    String[] p = Arrays.stream(String.valueOf(uri.getRawPath()).split("/")).filter(s -> !s.isEmpty())
        .toArray(String[]::new);
    // /api/v1/... or /apis/GROUP/VERSION/...; then namespaces/NS/ when namespaced
    int at = p.length > 0 && p[0].equals("api") ? 2 : p.length > 0 && p[0].equals("apis") ? 3 : -1;
    if (at < 0 || p.length <= at) {
      return new ApiCall(verb(method, uri, true), NON_RESOURCE);
    }
    if (p[at].equals("namespaces") && p.length > at + 2) {
      at += 2;
    }
    boolean named = p.length > at + 1;
    String resource = p.length > at + 2 ? p[at] + "/" + p[at + 2] : p[at];
    return new ApiCall(verb(method, uri, named), resource);
  }

  private static String verb(String method, URI uri, boolean named) {
    String m = method.toUpperCase(Locale.ROOT);
    switch (m) {
      case "GET":
        String q = uri.getRawQuery();
        if (q != null && Arrays.asList(q.split("&")).contains("watch=true")) {
          return "watch";
        }
        return named ? "get" : "list";
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return named ? "delete" : "deletecollection";
      default:
        return m.toLowerCase(Locale.ROOT).replaceAll("[^a-z]", "");
    }
  }
}
