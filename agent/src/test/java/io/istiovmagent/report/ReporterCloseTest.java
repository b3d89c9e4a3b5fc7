package io.istiovmagent.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.testing.TinyHttpsServer;
import io.istiovmagent.testing.TinyHttpsServer.Answer;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import okhttp3.HttpUrl;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reporter replaced on a reload ends before close() returns, so that two never run side by side. */
class ReporterCloseTest {
  private static final HeldCertificate CA = TestTls.newCa("reporter close test CA");

  @TempDir
  Path dir;

  @Test
  void closeReturnsOnlyOnceTheReportersThreadHasEnded() throws Exception {
    CountDownLatch inCallback = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    BlockingQueue<String> order = new LinkedBlockingQueue<>();
    // The reporter's thread busy in a hint callback that does not heed interrupts: the longest it can take to end.
    Reporter.Hints hints = () -> {
      inCallback.countDown();
      boolean interrupted = false;
      while (true) {
        try {
          release.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      order.add("callback returned");
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    };
    try (TinyHttpsServer server = TinyHttpsServer.idleClosing(
        TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA), Duration.ofSeconds(30),
        r -> Answer.of(200, "application/json",
            "{\"accepted\":true,\"hints\":{\"fetchBundleNow\":true}}".getBytes(StandardCharsets.UTF_8)))) {
      Reporter reporter = new Reporter(HttpUrl.get("https://localhost:" + server.port() + "/v1/health"),
          TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))), Optional.empty(), Duration.ofMinutes(10),
          Duration.ofSeconds(2), new Backoff(Duration.ofMillis(50), Duration.ofMillis(200), new SplittableRandom(1)),
          new SplittableRandom(2), new HealthReport.Host("vm-1", "0123456789abcdef0123456789abcdef", List.of()),
          Clock.systemUTC(), new Log(new PrintStream(new ByteArrayOutputStream(), true), true), "test", hints);
      reporter.start();
      reporter.offer(ReporterTest.status(AgentStatus.Health.HEALTHY, List.of(), "active/running"));
      assertTrue(inCallback.await(10, TimeUnit.SECONDS), "no report answered");

      Thread closer = new Thread(() -> {
        reporter.close();
        order.add("close returned");
      });
      closer.start();

      assertNull(order.poll(500, TimeUnit.MILLISECONDS), "close() returned while the reporter's thread still ran");
      release.countDown();
      assertEquals("callback returned", order.poll(10, TimeUnit.SECONDS));
      assertEquals("close returned", order.poll(10, TimeUnit.SECONDS));
      closer.join(10_000);
      assertEquals(1, server.received.size(), "nothing sent after close()");
    }
  }
}
