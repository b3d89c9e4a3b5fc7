package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The agent's HTTPS client against a server that closes a connection once it has been idle for a while, as every
 * real server does (Apache httpd after 5 s, the reference endpoint's JDK server after ~30 s). A request must not fail
 * on a pooled connection the server has closed: the short keep-alive drops it first, and a request that meets one
 * anyway goes again on a new connection (StaleConnectionRetryTest, HttpsSourceForeignServerTest).
 */
class HttpsClientsKeepAliveTest {
  private static final HeldCertificate CA = TestTls.newCa("keep-alive test CA");
  /** The server's idle timeout: Apache httpd's default, the shortest of the common ones. */
  private static final Duration SERVER_IDLE = Duration.ofSeconds(5);

  @TempDir
  Path dir;

  private IdleClosingServer server;

  @BeforeEach
  void start() throws IOException {
    server = new IdleClosingServer(TestTls.serverSocketFactory(TestTls.serverCert(CA, "localhost"), CA), SERVER_IDLE);
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
  }

  @Test
  void keepsIdleConnectionsForLessThanTheShortestCommonServerIdleTimeout() {
    assertTrue(HttpsClients.KEEP_ALIVE.compareTo(SERVER_IDLE) < 0, "keep-alive " + HttpsClients.KEEP_ALIVE);
  }

  /** GET: a bundle fetch (OkHttp never checks a pooled connection before a GET); POST: a report idle under 10 s. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"GET", "POST"})
  void aSecondRequestAfterTheServerClosedTheIdleConnectionSucceeds(String method) throws Exception {
    OkHttpClient client = HttpsClients.client(TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))),
        Duration.ofSeconds(5), true);
    assertEquals(200, call(client, method));
    long idleSince = System.nanoTime();
    // The first connection ends, on the server's side: the server closes it after SERVER_IDLE, unless the client
    // dropped it from its pool (and closed it) before. Waited for, deterministically.
    assertTrue(server.ended.tryAcquire(30, TimeUnit.SECONDS), "the first connection never ended");
    // The client's pool drops an idle connection KEEP_ALIVE after its request, on a thread of its own: done before
    // the connection can end above, unless the server ended it first, as it does with a keep-alive longer than its
    // idle timeout (OkHttp's default, 5 minutes), which this then waits out in vain. The wait ends 8 s after the
    // first request (4 s past KEEP_ALIVE): the POST must go out before 10 s of idleness, after which OkHttp would
    // check the connection and the POST variant could not fail.
    long deadline = idleSince + Duration.ofSeconds(8).toNanos();
    while (client.connectionPool().connectionCount() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    // The second request comes more than the server's idle timeout after the first, as the next refresh or
    // heartbeat does.
    long spaced = SERVER_IDLE.plusMillis(200).toNanos() - (System.nanoTime() - idleSince);
    if (spaced > 0) {
      Thread.sleep(spaced / 1_000_000 + 1);
    }
    assertEquals(200, call(client, method), "the second " + method + " after the server closed the first connection");
    assertEquals(2, server.connections.get(), "a new connection for the second request");
  }

  private int call(OkHttpClient client, String method) throws IOException {
    Request.Builder rb = new Request.Builder().url("https://localhost:" + server.port() + "/v1/x");
    if (method.equals("POST")) {
      rb.post(RequestBody.create("{}", MediaType.get("application/json")));
    }
    try (Response r = client.newCall(rb.build()).execute()) {
      r.body().string();
      return r.code();
    }
  }

  /**
   * HTTP/1.1 over TLS on loopback, one thread per connection, keep-alive until the connection has been idle for
   * {@code idle}, then closed (close_notify and FIN), as a server's keep-alive timeout does. Answers every request
   * 200 with a small JSON body.
   */
  private static final class IdleClosingServer implements AutoCloseable {
    final AtomicInteger connections = new AtomicInteger();
    /** Released when a connection ends: idle for too long (closed by the server), or closed by the client. */
    final Semaphore ended = new Semaphore(0);
    final AtomicInteger idleCloses = new AtomicInteger();
    private final ServerSocket listener;
    private final SSLSocketFactory tls;
    private final int idleMillis;

    IdleClosingServer(SSLSocketFactory tls, Duration idle) throws IOException {
      this.tls = tls;
      this.idleMillis = (int) idle.toMillis();
      this.listener = new ServerSocket(0, 50, TestTls.LOOPBACK);
      Thread t = new Thread(this::accept, "idle-closing-server");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    private void accept() {
      while (!listener.isClosed()) {
        try {
          Socket plain = listener.accept();
          connections.incrementAndGet();
          Thread t = new Thread(() -> serve(plain), "idle-closing-connection");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket plain) {
      try (SSLSocket s = (SSLSocket) tls.createSocket(plain, "localhost", plain.getPort(), true)) {
        s.setUseClientMode(false);
        s.setSoTimeout(idleMillis);
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        while (true) {
          String head;
          try {
            head = readHead(in);
          } catch (SocketTimeoutException idle) {
            idleCloses.incrementAndGet(); // closed by the try-with-resources
            return;
          }
          if (head == null) {
            return;
          }
          int length = 0;
          for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
              length = Integer.parseInt(line.substring("content-length:".length()).strip());
            }
          }
          in.readNBytes(length);
          byte[] body = "{\"accepted\":true}".getBytes(StandardCharsets.US_ASCII);
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length
              + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(body);
          out.flush();
        }
      } catch (IOException e) {
        // the client went away
      } finally {
        ended.release();
      }
    }

    /** The request line and headers, or null at the end of the stream. */
    private static String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int c;
      while ((c = in.read()) != -1) {
        b.write(c);
        int n = b.size();
        byte[] a = b.toByteArray();
        if (n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n') {
          return b.toString(StandardCharsets.US_ASCII);
        }
      }
      return null;
    }

    @Override
    public void close() throws IOException {
      listener.close();
    }
  }
}
