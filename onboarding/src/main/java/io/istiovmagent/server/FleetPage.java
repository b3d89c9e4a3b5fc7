package io.istiovmagent.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GET /fleet: a read-only page that shows GET /v1/vms as a table with filters (docs/kubernetes.md, "The fleet view").
 * The page holds no data, so it is served without a credential; its script asks for an admin join token and sends it
 * to /v1/vms only. Three static files from the jar, with headers that let them do nothing else: script, style and
 * requests from this origin only, no inline script, no framing, no form submission, no referrer, no caching, no
 * content sniffing.
 */
final class FleetPage {
  static final String CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private final Map<String, Response> files;

  private FleetPage(Map<String, Response> files) {
    this.files = files;
  }

  /** The page's files, read from the jar once. */
  static FleetPage load() {
    Map<String, Response> files = new LinkedHashMap<>();
    Response page = file("index.html", "text/html; charset=utf-8");
    files.put("/fleet", page);
    files.put("/fleet/", page);
    files.put("/fleet/fleet.js", file("fleet.js", "text/javascript; charset=utf-8"));
    files.put("/fleet/fleet.css", file("fleet.css", "text/css; charset=utf-8"));
    return new FleetPage(files);
  }

  /** Whether {@code path} is the page's (answered here, without a credential). */
  static boolean owns(String path) {
    return path != null && (path.equals("/fleet") || path.startsWith("/fleet/"));
  }

  Response get(String path) {
    Response r = files.get(path);
    return r != null ? r : Response.error(404, "no such file; the fleet page is GET /fleet");
  }

  private static Response file(String name, String type) {
    try (InputStream in = FleetPage.class.getResourceAsStream("fleet/" + name)) {
      if (in == null) {
        throw new IllegalStateException("fleet/" + name + " is missing from the jar");
      }
      Map<String, String> h = new LinkedHashMap<>();
      h.put("Content-Type", type);
      h.put("Content-Security-Policy", CSP);
      h.put("X-Content-Type-Options", "nosniff");
      h.put("Referrer-Policy", "no-referrer");
      h.put("X-Frame-Options", "DENY");
      h.put("Cross-Origin-Resource-Policy", "same-origin");
      h.put("Cache-Control", "no-store");
      return new Response(200, h, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read fleet/" + name + " from the jar", e);
    }
  }
}
