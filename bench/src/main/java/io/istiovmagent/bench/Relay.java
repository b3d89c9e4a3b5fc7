package io.istiovmagent.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * P7's stand-in for the service's Kubernetes Service (kube-proxy): a TCP relay on loopback that hands each new
 * connection to the next replica in turn, bytes passed through untouched (TLS ends at the replica). A replica that
 * refuses is skipped for that connection; when every replica refuses (both stopped: the outage), the client's
 * connection is reset, as a Service without ready endpoints rejects it. Two threads per connection, blocking I/O.
 *
 * <p>Usage: {@code Relay LISTEN_PORT BACKEND_PORT...}; prints the connections per backend when stopped.
 */
public final class Relay implements AutoCloseable {
  private final ServerSocket listener;
  private final List<Integer> backends;
  private final AtomicInteger next = new AtomicInteger();
  private final AtomicLongArray accepted;
  private final AtomicInteger refused = new AtomicInteger();
  private final ExecutorService pumps = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "relay-pump");
    t.setDaemon(true);
    return t;
  });

  Relay(int port, List<Integer> backends) throws IOException {
    this.listener = new ServerSocket();
    listener.setReuseAddress(true);
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 4096);
    this.backends = List.copyOf(backends);
    this.accepted = new AtomicLongArray(backends.size());
  }

  public static void main(String[] args) throws Exception {
    List<Integer> backends = java.util.Arrays.stream(args).skip(1).map(Integer::valueOf).toList();
    Relay relay = new Relay(Integer.parseInt(args[0]), backends);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.println("relay: " + relay.counts()),
        "relay-stop"));
    relay.run();
  }

  int port() {
    return listener.getLocalPort();
  }

  /** Connections handed to each backend, in order, and connections reset because none would take them. */
  String counts() {
    return "connections per backend " + accepted + ", reset (no backend) " + refused.get();
  }

  /** Accepts until closed. */
  void run() {
    while (!listener.isClosed()) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return; // closed
      }
      pumps.execute(() -> connect(client));
    }
  }

  /** The order in which the backends are tried for the connection numbered {@code n}: round robin from n. */
  static int[] order(int n, int backends) {
    int[] out = new int[backends];
    for (int i = 0; i < backends; i++) {
      out[i] = Math.floorMod(n + i, backends);
    }
    return out;
  }

  private void connect(Socket client) {
    for (int b : order(next.getAndIncrement(), backends.size())) {
      Socket upstream = new Socket();
      try {
        upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), backends.get(b)), 1000);
      } catch (IOException refusedHere) {
        closeQuietly(upstream);
        continue;
      }
      accepted.incrementAndGet(b);
      try {
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
      } catch (SocketException e) {
        // a socket already closed: the pumps below end at once
      }
      AtomicInteger ended = new AtomicInteger();
      pumps.execute(() -> pump(upstream, client, ended));
      pump(client, upstream, ended);
      return;
    }
    refused.incrementAndGet();
    try {
      client.setSoLinger(true, 0); // a reset, as a refused connection
    } catch (SocketException e) {
      // closed already
    }
    closeQuietly(client);
  }

  /**
   * Copies {@code from} to {@code to} until the end of {@code from}, then half-closes {@code to}; the second
   * direction of a connection to end closes both sockets. An error on either side closes both (a reset).
   */
  private static void pump(Socket from, Socket to, AtomicInteger ended) {
    byte[] buf = new byte[16 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int r;
      while ((r = in.read(buf)) >= 0) {
        out.write(buf, 0, r);
      }
      to.shutdownOutput();
    } catch (IOException e) {
      closeQuietly(to);
      closeQuietly(from);
      return;
    }
    if (ended.incrementAndGet() == 2) {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // nothing to do
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    pumps.shutdownNow();
  }
}
