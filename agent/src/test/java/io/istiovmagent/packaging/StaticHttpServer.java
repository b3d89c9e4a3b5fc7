package io.istiovmagent.packaging;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A directory served over plain HTTP on the host's loopback, as any static web server or bucket serves an apt
 * repository: GET and HEAD of files, 404 for anything else. Records each request's method and path.
 */
final class StaticHttpServer implements AutoCloseable {
  private final Path root;
  private final HttpServer server;
  private final List<String> requests = new CopyOnWriteArrayList<>();

  StaticHttpServer(Path root) throws IOException {
    this.root = root.toAbsolutePath().normalize();
    server = HttpServer.create(new InetSocketAddress(TestTls.LOOPBACK, 0), 16);
    server.createContext("/", this::handle);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.start();
  }

  /** http://127.0.0.1:PORT, without a trailing slash. */
  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** "GET /dists/stable/InRelease", ... in the order they came. */
  List<String> requests() {
    return List.copyOf(requests);
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String method = ex.getRequestMethod();
      String path = ex.getRequestURI().getPath();
      requests.add(method + " " + path);
      Path file = root.resolve(path.substring(1)).normalize();
      if (!(method.equals("GET") || method.equals("HEAD")) || !file.startsWith(root) || !Files.isRegularFile(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      long size = Files.size(file);
      ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
      ex.getResponseHeaders().set("Last-Modified", java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME
          .format(Files.getLastModifiedTime(file).toInstant().atZone(java.time.ZoneOffset.UTC)));
      if (method.equals("HEAD")) {
        ex.getResponseHeaders().set("Content-Length", Long.toString(size));
        ex.sendResponseHeaders(200, -1);
        return;
      }
      ex.sendResponseHeaders(200, size == 0 ? -1 : size);
      try (InputStream in = Files.newInputStream(file); OutputStream out = ex.getResponseBody()) {
        in.transferTo(out);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
