package io.istiovmagent.server;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.istiovmagent.server.metrics.ServiceMetrics;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Every request's way through the endpoint: shed when overloaded, authenticate (401 on any path without a known
 * token, so a wrong token learns nothing), route by the raw path (only DNS labels ever name a bundle), then the
 * endpoint decides and the router writes the answer. Whatever goes wrong becomes a short JSON error. Each answer is
 * counted under its route's pattern.
 */
final class Router implements HttpHandler {
  /** The longest Retry-After, in seconds, of a request shed because every worker is busy. */
  static final int BUSY_RETRY_AFTER_MAX = 10;

  /** The most a request body (a health report) may be. */
  static final int MAX_BODY_BYTES = 64 * 1024;
  /** How much of an oversized body is read past the limit so that its sender still sees the 400. */
  static final int MAX_DRAIN_BYTES = 1024 * 1024;
  static final Response UNAUTHORIZED = Response.error(401, "a valid credential is required: send "
      + "Authorization: Bearer <the VM's credential, or a join token>").with("WWW-Authenticate", "Bearer");
  private static final Response HEALTHY = Response.json(200, Map.of("status", "serving"));
  private static final Response NOT_FOUND = Response.error(404, "no such endpoint; the endpoint serves GET "
      + "/v1/bundle/{namespace}/{group}, POST /v1/enroll/{namespace}/{group}, POST /v1/health, GET /v1/vms, "
      + "DELETE /v1/vms/{namespace}/{group}/{machineId}, GET /healthz and GET /fleet");

  private final JoinTokens tokens;
  private final Optional<Authenticator> credentials;
  private final EnrolEndpoint enrol;
  private final BundleEndpoint bundles;
  private final HealthEndpoint health;
  private final DeregisterEndpoint deregister;
  private final FleetPage page;
  private final InFlight inFlight;
  private final ServiceMetrics metrics;
  private final Log log;

  Router(JoinTokens tokens, Optional<Authenticator> credentials, EnrolEndpoint enrol, BundleEndpoint bundles,
      HealthEndpoint health, DeregisterEndpoint deregister, FleetPage page, InFlight inFlight, ServiceMetrics metrics,
      Log log) {
    this.tokens = tokens;
    this.credentials = credentials;
    this.enrol = enrol;
    this.bundles = bundles;
    this.health = health;
    this.deregister = deregister;
    this.page = page;
    this.inFlight = inFlight;
    this.metrics = metrics;
    this.log = log;
  }

  @Override
  public void handle(HttpExchange ex) {
    long in = System.nanoTime(); // the request line and headers have been read
    long handedOver = RequestExecutor.handedOverNanos(in);
    String what = ex.getRequestMethod() + " " + Names.printable(ex.getRequestURI().getRawPath(), 200);
    Route route = Route.of(ex.getRequestURI().getRawPath());
    boolean shed = RequestExecutor.shedding();
    boolean entered = !shed && inFlight.enter();
    int status = 0;
    try {
      Response r;
      if (shed) {
        // 1 to 10 s, drawn: the clients a burst turned away come back spread over ten seconds, not all within the
        // next one, where they would meet the same full pool (docs/performance.md, P5).
        r = Response.unavailable("the endpoint is busy; retry after the Retry-After seconds",
            ThreadLocalRandom.current().nextInt(1, BUSY_RETRY_AFTER_MAX + 1)).with("Connection", "close");
      } else if (!entered) {
        r = Response.unavailable("the endpoint is shutting down; retry shortly", 1).with("Connection", "close");
      } else {
        try {
          r = route(ex, route);
        } catch (RuntimeException e) {
          log.error("internal error answering " + what + ": " + e);
          r = Response.error(500, "internal error; the endpoint's log has the details");
        }
      }
      send(ex, r);
      status = r.status();
      // Counted before close, whose wait would otherwise hold the worker a little longer after the client has its
      // answer: the answer is flushed by now.
      metrics.request(route.pattern(), status, System.nanoTime() - handedOver);
    } catch (IOException e) {
      log.debug(what + ": the client went away (" + e.getMessage() + ")");
    } finally {
      ex.close();
      if (entered) {
        inFlight.exit();
      }
    }
    if (status != 0) {
      // The time to answer, from the request read to the response written (close flushes it), then from when the
      // server handed the exchange over: queue, TLS handshake on a new connection, request read. bench/p5-fleet
      // reads both.
      long out = System.nanoTime();
      log.debug(String.format(Locale.ROOT, "%s -> %d (%.2f ms; %.2f ms with queue and TLS)", what, status,
          (out - in) / 1e6, (out - handedOver) / 1e6));
    }
  }

  private Response route(HttpExchange ex, Route route) throws IOException {
    Headers h = ex.getRequestHeaders();
    String method = ex.getRequestMethod();
    // The raw path: "%2F" stays three characters and can never become a separator or "..".
    String path = ex.getRequestURI().getRawPath();
    String[] s = path == null ? new String[0] : path.split("/", -1);
    switch (route) {
      case HEALTHZ:
        // For the kubelet's probes: no credential, nothing about the VMs; answered while the endpoint takes requests.
        return "GET".equals(method) ? HEALTHY : methodNotAllowed("GET");
      case FLEET_PAGE:
        // Static files holding no data: no credential (the page's script asks for one, for /v1/vms).
        return "GET".equals(method) ? page.get(path) : methodNotAllowed("GET");
      case ENROL: {
        // The join token is the enroller's to check: it lives in the namespace the path names.
        if (!"POST".equals(method)) {
          return methodNotAllowed("POST");
        }
        Optional<byte[]> body = readBody(ex, EnrolEndpoint.MAX_BODY_BYTES);
        if (body.isEmpty()) {
          return Response.error(400, "the body is larger than " + EnrolEndpoint.MAX_BODY_BYTES + " bytes")
              .with("Connection", "close");
        }
        return enrol.post(h.get("Authorization"), s[3], s[4], body.get());
      }
      default:
        break;
    }
    Optional<Grant> grant = tokens.authenticate(h.get("Authorization"));
    if (grant.isEmpty() && credentials.isPresent()) {
      grant = JoinTokens.bearer(h.get("Authorization")).flatMap(credentials.get()::authenticate);
    }
    if (grant.isEmpty()) {
      return UNAUTHORIZED;
    }
    switch (route) {
      case HEALTH: {
        if (!"POST".equals(method)) {
          return methodNotAllowed("POST");
        }
        Optional<byte[]> body = readBody(ex, MAX_BODY_BYTES);
        if (body.isEmpty()) {
          return Response.error(400, "the body is larger than " + MAX_BODY_BYTES + " bytes; a health report is at "
              + "most 64 KiB").with("Connection", "close");
        }
        return health.post(grant.get(), body.get(), JoinTokens.bearer(h.get("Authorization")).orElse(null));
      }
      case VMS:
        return "GET".equals(method) ? health.list(grant.get()) : methodNotAllowed("GET");
      case VM:
        return "DELETE".equals(method) ? deregister.delete(grant.get(), s[3], s[4], s[5])
            : methodNotAllowed("DELETE");
      case BUNDLE:
        return "GET".equals(method) ? bundles.get(grant.get(), s[3], s[4], h.get("If-None-Match"))
            : methodNotAllowed("GET");
      default:
        return NOT_FOUND;
    }
  }

  private static Response methodNotAllowed(String allowed) {
    return Response.error(405, "use " + allowed + " here").with("Allow", allowed);
  }

  /**
   * The body, or empty when it is over the limit. An oversized body is read on (and dropped) up to
   * {@link #MAX_DRAIN_BYTES}: an HTTP/1.1 client reads the answer only after sending its whole body, so closing on it
   * early would turn our 400 into a connection reset. Anything declared larger is not read at all.
   */
  private static Optional<byte[]> readBody(HttpExchange ex, int max) throws IOException {
    String declared = ex.getRequestHeaders().getFirst("Content-Length");
    if (declared != null) {
      try {
        if (Long.parseLong(declared.strip()) > MAX_DRAIN_BYTES) {
          return Optional.empty();
        }
      } catch (NumberFormatException e) {
        return Optional.empty(); // the JDK server refuses these before us; never trust it blindly
      }
    }
    // Not closed here: closing drains what is left, and the answer should go out first.
    InputStream in = ex.getRequestBody();
    byte[] body = in.readNBytes(max + 1);
    if (body.length <= max) {
      return Optional.of(body);
    }
    byte[] sink = new byte[8192];
    long left = MAX_DRAIN_BYTES - body.length;
    for (int n; left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0; ) {
      left -= n;
    }
    return Optional.empty();
  }

  private static void send(HttpExchange ex, Response r) throws IOException {
    Headers out = ex.getResponseHeaders();
    for (Map.Entry<String, String> e : r.headers().entrySet()) {
      out.set(e.getKey(), e.getValue());
    }
    byte[] body = r.body();
    ex.sendResponseHeaders(r.status(), body == null || body.length == 0 ? -1 : body.length);
    if (body != null && body.length > 0) {
      OutputStream os = ex.getResponseBody();
      os.write(body);
      os.flush(); // before close(), which may first drain an unread request body
    }
  }
}
