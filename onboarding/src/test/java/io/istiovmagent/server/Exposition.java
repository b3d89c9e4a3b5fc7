package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A scrape of the metrics listener, as Prometheus takes it (plain HTTP), read into its samples; and Prometheus' own
 * check of the text ({@code promtool check metrics}, Debian's prometheus package). A missing promtool fails the
 * test, never skips it: dev/ensure-tools installs it.
 */
public final class Exposition {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** The text as served. */
  public final String text;
  /** Each sample's name with its labels as written, e.g. {@code x_total{code="200"}}, and its value. */
  public final Map<String, Double> samples;

  private Exposition(String text) {
    this.text = text;
    Map<String, Double> m = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (!line.isEmpty() && !line.startsWith("#")) {
        int space = line.lastIndexOf(' ');
        m.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1).replace("+Inf", "Infinity")));
      }
    }
    this.samples = m;
  }

  /** GET http://127.0.0.1:PORT/metrics; a 200 with the 0.0.4 text format's Content-Type, or the test fails. */
  public static Exposition scrape(int port) throws IOException, InterruptedException {
    HttpResponse<String> r = get(port, "GET", "/metrics");
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElse(""));
    return new Exposition(r.body());
  }

  /** Scrapes until {@code done} holds (what a request counts is counted as its connection closes), 10 s at most. */
  public static Exposition scrapeUntil(int port, Predicate<Exposition> done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Exposition e = scrape(port);
    while (!done.test(e) && System.nanoTime() < deadline) {
      Thread.sleep(10);
      e = scrape(port);
    }
    return e;
  }

  public static HttpResponse<String> get(int port, String method, String path) throws IOException,
      InterruptedException {
    HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build();
    return HTTP.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  /** The sample's value; 0 when the series is not there. */
  public double value(String series) {
    return samples.getOrDefault(series, 0.0);
  }

  /** The sum of every sample whose name-and-labels starts with {@code prefix}. */
  public double sum(String prefix) {
    return samples.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue)
        .sum();
  }

  /** What promtool says about the text: empty when it is valid exposition with no lint problem. */
  public String promtoolProblems() throws IOException, InterruptedException {
    return promtoolProblems(text);
  }

  public static String promtoolProblems(String text) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(promtool(), "check", "metrics").redirectErrorStream(true).start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("promtool check metrics did not finish in 30 s");
    }
    return p.exitValue() == 0 ? "" : "promtool exited " + p.exitValue() + ": " + out;
  }

  private static String promtool() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "promtool");
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new AssertionError("promtool is not installed, and this test checks the metrics' exposition with it: "
        + "apt-get install --no-install-recommends prometheus (./dev/ensure-tools installs it)");
  }
}
