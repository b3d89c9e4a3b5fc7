package io.istiovmagent.server.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.istiovmagent.util.PrometheusText;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The metrics listener: plain HTTP, as Prometheus scrapes a pod, serving {@code GET /metrics} and nothing else (404
 * for any other path, 405 for another method). It holds no secret and takes no input, so it needs no TLS and no
 * credential; one thread is plenty for a scrape every few seconds.
 */
public final class MetricsServer {
  public static final String PATH = "/metrics";

  private final HttpServer http;
  private final ExecutorService thread;

  private MetricsServer(HttpServer http, ExecutorService thread) {
    this.http = http;
    this.thread = thread;
  }

  /** Binds {@code address} (port 0: any free one) and serves {@code exposition} at /metrics. */
  public static MetricsServer start(InetSocketAddress address, Supplier<String> exposition) throws IOException {
    HttpServer s = HttpServer.create(address, 0);
    ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "onboarding-metrics");
      t.setDaemon(true);
      return t;
    });
    s.createContext("/", ex -> answer(ex, exposition));
    s.setExecutor(thread);
    s.start();
    return new MetricsServer(s, thread);
  }

  public int port() {
    return http.getAddress().getPort();
  }

  public void stop() {
    http.stop(0);
    thread.shutdownNow();
  }

  private static void answer(HttpExchange ex, Supplier<String> exposition) throws IOException {
    try (ex) {
      String method = ex.getRequestMethod();
      if (!PATH.equals(ex.getRequestURI().getRawPath())) {
        send(ex, 404, "text/plain; charset=utf-8", "only " + PATH + " is served here\n", method);
      } else if (!"GET".equals(method) && !"HEAD".equals(method)) {
        ex.getResponseHeaders().set("Allow", "GET, HEAD");
        send(ex, 405, "text/plain; charset=utf-8", "use GET\n", method);
      } else {
        send(ex, 200, PrometheusText.CONTENT_TYPE, exposition.get(), method);
      }
    }
  }

  private static void send(HttpExchange ex, int status, String type, String body, String method)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    if ("HEAD".equals(method)) {
      ex.sendResponseHeaders(status, -1);
      return;
    }
    ex.sendResponseHeaders(status, bytes.length);
    ex.getResponseBody().write(bytes);
  }
}
