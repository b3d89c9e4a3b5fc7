package io.istiovmagent.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Wraps the mock API server's dispatcher and writes one line per request to the API request log P7 reads
 * ({@link ApiLog}): when it arrived, its verb and resource ({@link ApiRequest}), the mock's answer code, the mock's
 * time for it, and for a WorkloadEntry status write what it changed ({@link EntryWrites}). It only observes; lines
 * are written by a thread of its own, so that the mock's event loops never wait for the disk.
 */
final class ApiCounter extends Dispatcher implements CustomResourceAware {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Dispatcher inner;
  private final EntryWrites entries = new EntryWrites();
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final BlockingQueue<String> statusLines = new LinkedBlockingQueue<>();

  /**
   * Writes {@code log}, and beside it {@code status-writes.log}: each WorkloadEntry status write with its entry,
   * its class and what it says ({@code EPOCH-MS KIND NAMESPACE/NAME HEALTHY-STATUS/REASON AGENT-STATUS/REASON
   * MESSAGE}), to tell afterwards which VMs changed and why.
   */
  ApiCounter(Dispatcher inner, Path log) {
    this.inner = inner;
    start(lines, log, "api-log");
    start(statusLines, log.resolveSibling("status-writes.log"), "status-log");
  }

  private static void start(BlockingQueue<String> queue, Path file, String name) {
    Thread t = new Thread(() -> write(queue, file), name);
    t.setDaemon(true);
    t.start();
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    long arrived = System.currentTimeMillis();
    long start = System.nanoTime();
    ApiRequest r = ApiRequest.of(request.getMethod(), request.getPath());
    // Copied first: the mock's dispatcher reads the body away.
    byte[] status = r.verb().equals("PUT") && r.resource().equals("workloadentries/status")
        && request.getBody() != null ? request.getBody().getBytes() : null;
    MockResponse response = inner.dispatch(request);
    long micros = (System.nanoTime() - start) / 1000;
    String kind = "-";
    if (status != null && response.code() / 100 == 2) {
      kind = classify(status, arrived);
    }
    lines.add(line(arrived, r, response.code(), micros, kind));
    return response;
  }

  /** {@code EPOCH-MS VERB RESOURCE CODE MICROS KIND}, as {@link ApiLog#parse} reads it. */
  static String line(long arrivedMillis, ApiRequest r, int code, long micros, String kind) {
    return arrivedMillis + " " + r.verb() + " " + r.resource() + " " + code + " " + micros + " " + kind;
  }

  private String classify(byte[] entry, long arrived) {
    try {
      var body = JSON.readTree(entry);
      String key = body.path("metadata").path("namespace").asText() + "/" + body.path("metadata").path("name")
          .asText();
      EntryWrites.Conditions c = EntryWrites.parse(body);
      String kind;
      synchronized (entries) {
        kind = entries.written(key, c, Instant.ofEpochMilli(arrived)).name().toLowerCase(java.util.Locale.ROOT);
      }
      statusLines.add(arrived + " " + kind + " " + key + " " + c.healthyStatus() + "/" + c.healthyReason() + " "
          + c.agentStatus() + "/" + c.agentReason() + " " + c.agentMessage());
      return kind;
    } catch (IOException | RuntimeException e) {
      return "unreadable";
    }
  }

  @Override
  public void expectCustomResource(CustomResourceDefinitionContext rdc) {
    ((CustomResourceAware) inner).expectCustomResource(rdc);
  }

  @Override
  public void shutdown() {
    inner.shutdown();
  }

  /** Waits until every line so far is on disk (for the end of a run). */
  void flush() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while ((!lines.isEmpty() || !statusLines.isEmpty()) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    Thread.sleep(300);
  }

  private static void write(BlockingQueue<String> lines, Path log) {
    try (BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
      List<String> batch = new ArrayList<>();
      while (true) {
        String first = lines.poll(200, TimeUnit.MILLISECONDS);
        if (first != null) {
          batch.add(first);
          lines.drainTo(batch);
          for (String l : batch) {
            out.write(l);
            out.write('\n');
          }
          batch.clear();
        }
        out.flush(); // the coordinator reads the log once a second
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
