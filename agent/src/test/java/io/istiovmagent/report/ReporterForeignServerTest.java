package io.istiovmagent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The reporter against report sinks it was not written with: plain servers that answer 202 or 204, an HTTP/1.0
 * server that closes the connection after every answer, and one that closes a connection idle for 1 s (the
 * agent keeps one longer). Every report, the last one at shutdown included, must be delivered, and delivered at
 * the first attempt.
 */
class ReporterForeignServerTest {
  private static final HeldCertificate CA = TestTls.newCa("foreign sink test CA");
  private static final SSLSocketFactory TLS = TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA);
  private static final Duration WAIT = Duration.ofSeconds(10);

  /** The sinks, each with how it answers a report and when it closes a connection. */
  enum Sink {
    ACCEPTED_202_TEXT {
      @Override
      TinyHttpsServer start() throws IOException {
        return TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30),
            r -> Answer.of(202, "text/plain", "queued\n".getBytes(StandardCharsets.US_ASCII)));
      }
    },
    ACCEPTED_202_NO_BODY {
      @Override
      TinyHttpsServer start() throws IOException {
        return TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30), r -> Answer.of(202, null, new byte[0]));
      }
    },
    NO_CONTENT_204 {
      @Override
      TinyHttpsServer start() throws IOException {
        return TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30), r -> Answer.empty(204));
      }
    },
    HTTP_1_0_CLOSING {
      @Override
      TinyHttpsServer start() throws IOException {
        return TinyHttpsServer.http10(TLS, r -> Answer.of(200, "application/json", json("{\"accepted\":true}")));
      }

      @Override
      boolean closes() {
        return true;
      }
    },
    IDLE_CLOSE_AFTER_1S {
      @Override
      TinyHttpsServer start() throws IOException {
        return TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(1),
            r -> Answer.of(200, "application/json", json("{\"accepted\":true}")));
      }

      @Override
      boolean closes() {
        return true;
      }
    };

    abstract TinyHttpsServer start() throws IOException;

    /** Whether the sink closes the connection of a delivered report on its own, and so before the next one. */
    boolean closes() {
      return false;
    }
  }

  @TempDir
  Path dir;

  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private final AtomicInteger failedCalls = new AtomicInteger();
  private TinyHttpsServer server;
  private Reporter reporter;

  @AfterEach
  void stop() throws IOException {
    if (reporter != null) {
      reporter.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Sink.class)
  void everyReportIsDeliveredAtTheFirstAttempt(Sink sink) throws Exception {
    start(sink);
    reporter.offer(ReporterTest.status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    assertEquals("HEALTHY", next().get("status").asText());
    awaitDelivered(1);
    awaitServerClose(sink);

    reporter.offer(ReporterTest.status(AgentStatus.Health.DEGRADED, List.of("Envoy not ready (HTTP 503)"),
        "active/running"));
    JsonNode second = next();
    assertEquals("DEGRADED", second.get("status").asText());
    assertEquals(2, second.get("sequence").asLong(), "the first report counted as delivered");
    awaitDelivered(2);
    assertNull(server.received.poll(300, TimeUnit.MILLISECONDS), "a delivered report is not sent again");
    assertEquals(0, failedCalls.get(), "failed calls; log:\n" + logs);
    assertNull(reporter.state().lastError());
  }

  /** As reproduced: a heartbeat at t, the sink closes the connection, SIGTERM at t + 2 s. */
  @ParameterizedTest(name = "{0}")
  @EnumSource(Sink.class)
  void theStoppingReportArrivesAfterAHeartbeat(Sink sink) throws Exception {
    start(sink);
    reporter.offer(ReporterTest.status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
    next();
    awaitDelivered(1);
    awaitServerClose(sink);

    reporter.stop(ReporterTest.status(AgentStatus.Health.STOPPING, List.of("agent stopping"), "active/running"),
        Duration.ofSeconds(3));

    assertEquals("STOPPING", next().get("status").asText());
    assertEquals(2, reporter.state().delivered(), "log:\n" + logs);
  }

  /** Not one-shot: a connection failure on a new connection (nothing for the transport to retry) is retried. */
  @Test
  void theStoppingReportIsRetriedWithinItsTimeAfterAConnectionFailure() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    start(TinyHttpsServer.idleClosing(TLS, Duration.ofSeconds(30),
        r -> attempts.incrementAndGet() == 1 ? Answer.HANG_UP : Answer.of(200, "application/json", json("{}"))));

    reporter.stop(ReporterTest.status(AgentStatus.Health.STOPPING, List.of("agent stopping"), "active/running"),
        Duration.ofSeconds(3));

    assertEquals("STOPPING", next().get("status").asText());
    assertEquals("STOPPING", next().get("status").asText(), "sent again after the first attempt was hung up on");
    assertEquals(1, reporter.state().delivered(), "log:\n" + logs);
    assertEquals(2, server.connections());
  }

  private void start(Sink sink) throws Exception {
    start(sink.start());
  }

  private void start(TinyHttpsServer s) throws Exception {
    server = s;
    HttpUrl url = HttpUrl.get("https://localhost:" + server.port() + "/v1/health");
    reporter = new Reporter(url, TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))), Optional.empty(),
        Duration.ofMinutes(10), Duration.ofSeconds(2),
        new Backoff(Duration.ofMillis(50), Duration.ofMillis(200), new SplittableRandom(1)), new SplittableRandom(2),
        new HealthReport.Host("vm-1", "0123456789abcdef0123456789abcdef", List.of("10.0.0.7")), Clock.systemUTC(),
        new Log(new PrintStream(logs, true), true), "test", new Reporter.Hints() {
          @Override
          public void fetchBundleNow() {}
        }, call -> new EventListener() {
          @Override
          public void callFailed(Call c, IOException e) {
            failedCalls.incrementAndGet();
          }
        });
    reporter.start();
  }

  private JsonNode next() throws Exception {
    TinyHttpsServer.Received r = server.received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertNotNull(r, "no report within " + WAIT + "; log:\n" + logs);
    return ReportExchange.JSON.readTree(r.body());
  }

  private void awaitDelivered(long n) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (reporter.state().delivered() < n && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(n, reporter.state().delivered(), "delivered reports; state " + reporter.state() + "; log:\n" + logs);
  }

  /** The sink's own close of the connection the report went on, when it makes one: the pooled one is dead now. */
  private void awaitServerClose(Sink sink) throws InterruptedException {
    if (sink.closes()) {
      assertTrue(server.closedByServer.tryAcquire(WAIT.toSeconds(), TimeUnit.SECONDS), "the sink never closed");
    }
  }

  private static byte[] json(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
