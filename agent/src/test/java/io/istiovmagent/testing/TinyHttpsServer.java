package io.istiovmagent.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * An HTTPS server of another make than OkHttp's MockWebServer or the JDK's: a few lines over a TLS socket, one thread
 * per connection, answering each request with what {@code handler} says. It plays the servers a client meets in the
 * wild: an HTTP/1.0 sink that closes the connection after every answer (without a {@code Connection: close} header,
 * as such servers do), or an HTTP/1.1 server that closes a connection once it has been idle for a while.
 */
public final class TinyHttpsServer implements AutoCloseable {
  /** One request as received. */
  public record Received(String method, String target, Map<String, String> headers, byte[] body) {
    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }

    public String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** An answer: {@code body} null sends none and no Content-Length (a 204 or a 304). */
  public record Answer(int code, Map<String, String> headers, byte[] body) {
    public static Answer of(int code, String contentType, byte[] body) {
      return new Answer(code, contentType == null ? Map.of() : Map.of("Content-Type", contentType), body);
    }

    public static Answer empty(int code) {
      return new Answer(code, Map.of(), null);
    }

    /** No answer at all, the connection kept open: a server that took the request and hangs. */
    public static final Answer SILENCE = new Answer(0, Map.of(), null);
    /** No answer, the connection closed: a server that dropped the request. */
    public static final Answer HANG_UP = new Answer(-1, Map.of(), null);
  }

  /** How long after its answer the HTTP/1.0 server closes the connection. */
  private static final Duration CLOSE_AFTER_ANSWER = Duration.ofMillis(200);

  /** Requests in the order they arrived. */
  public final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
  /** Released each time the server closes a connection on its own (after an answer, or idle). */
  public final Semaphore closedByServer = new Semaphore(0);
  /** Released each time a connection ends, whichever side closed it. */
  public final Semaphore ended = new Semaphore(0);
  private final AtomicInteger connections = new AtomicInteger();
  private final ServerSocket listener;
  private final SSLSocketFactory tls;
  private final boolean http10;
  private final int idleMillis;
  private final Function<Received, Answer> handler;

  private TinyHttpsServer(SSLSocketFactory tls, boolean http10, Duration idle, Function<Received, Answer> handler)
      throws IOException {
    this.tls = tls;
    this.http10 = http10;
    this.idleMillis = (int) idle.toMillis();
    this.handler = handler;
    this.listener = new ServerSocket(0, 50, TestTls.LOOPBACK);
    Thread t = new Thread(this::accept, "tiny-https-" + listener.getLocalPort());
    t.setDaemon(true);
    t.start();
  }

  /** HTTP/1.0: one request per connection, closed by the server after the answer (without saying so). */
  public static TinyHttpsServer http10(SSLSocketFactory tls, Function<Received, Answer> handler) throws IOException {
    return new TinyHttpsServer(tls, true, Duration.ofSeconds(30), handler);
  }

  /** HTTP/1.1 with keep-alive, a connection closed by the server once it has been idle for {@code idle}. */
  public static TinyHttpsServer idleClosing(SSLSocketFactory tls, Duration idle, Function<Received, Answer> handler)
      throws IOException {
    return new TinyHttpsServer(tls, false, idle, handler);
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** How many connections were accepted so far. */
  public int connections() {
    return connections.get();
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket plain = listener.accept();
        connections.incrementAndGet();
        Thread t = new Thread(() -> serve(plain), "tiny-https-connection");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket plain) {
    boolean closedHere = false;
    try (SSLSocket s = (SSLSocket) tls.createSocket(plain, "localhost", plain.getPort(), true)) {
      s.setUseClientMode(false);
      s.setSoTimeout(idleMillis);
      InputStream in = new BufferedInputStream(s.getInputStream());
      OutputStream out = s.getOutputStream();
      while (true) {
        Received r;
        try {
          r = read(in);
        } catch (SocketTimeoutException idle) {
          closedHere = true; // closed by the try-with-resources: close_notify and FIN, as a keep-alive timeout does
          return;
        }
        if (r == null) {
          return; // the client closed it
        }
        received.add(r);
        Answer a = handler.apply(r);
        if (a == Answer.HANG_UP) {
          return;
        }
        if (a != Answer.SILENCE) {
          write(out, a);
        }
        if (http10) {
          // The close comes a moment after the answer, as over any real network: it reaches the client after the
          // client has read the answer and put the connection back in its pool. Whatever comes meanwhile is not
          // read as a request: an HTTP/1.0 server serves one per connection.
          s.setSoTimeout((int) CLOSE_AFTER_ANSWER.toMillis());
          try {
            in.read();
          } catch (SocketTimeoutException expected) {
            // the usual case: the client sent nothing more
          }
          closedHere = true;
          return;
        }
      }
    } catch (IOException e) {
      // the client went away
    } finally {
      if (closedHere) {
        closedByServer.release();
      }
      ended.release();
    }
  }

  private void write(OutputStream out, Answer a) throws IOException {
    StringBuilder head = new StringBuilder(http10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(a.code()).append(' ')
        .append(reason(a.code())).append("\r\n");
    a.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
    if (a.body() != null) {
      head.append("Content-Length: ").append(a.body().length).append("\r\n");
    }
    out.write(head.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
    if (a.body() != null) {
      out.write(a.body());
    }
    out.flush();
  }

  private static String reason(int code) {
    return switch (code) {
      case 200 -> "OK";
      case 202 -> "Accepted";
      case 204 -> "No Content";
      case 304 -> "Not Modified";
      default -> "Whatever";
    };
  }

  /** The next request, or null at the end of the stream. */
  private static Received read(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      b.write(c);
      int n = b.size();
      byte[] a = b.toByteArray();
      if (n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n') {
        String[] lines = b.toString(StandardCharsets.US_ASCII).split("\r\n");
        String[] requestLine = lines[0].split(" ");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
          int colon = lines[i].indexOf(':');
          if (colon > 0) {
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT),
                lines[i].substring(colon + 1).strip());
          }
        }
        String length = headers.get("content-length");
        byte[] body = in.readNBytes(length == null ? 0 : Integer.parseInt(length));
        return new Received(requestLine[0], requestLine[1], headers, body);
      }
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
