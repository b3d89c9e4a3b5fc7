package io.istiovmagent.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A TCP front on loopback for a client that must keep one URL while the server behind it changes: it relays each
 * connection to the backend port of the moment (a server with another certificate, say), or plays a host that
 * never answers a connection attempt ({@link #blackhole()}: connect() times out, as for a firewalled or dead
 * server). Bytes pass unchanged, so TLS is between the client and the backend. Switching drops every relayed
 * connection, so a pooled connection cannot outlive the server it went to. When either side of a relayed connection
 * ends, the other is reset (RST), so a server closing its socket mid-response is a reset at the client.
 */
public final class TcpFront implements AutoCloseable {
  private static final int CONNECT_MILLIS = 2_000;

  private final ServerSocket listener;
  private final Thread acceptor;
  private final Set<Socket> relayed = ConcurrentHashMap.newKeySet();
  private final Map<Integer, AtomicInteger> connections = new ConcurrentHashMap<>();
  private final List<Socket> held = new ArrayList<>();
  private final Object lock = new Object();
  /** The backend port; 0 while black-holed. Guarded by lock. */
  private int backend;
  private boolean parked;
  private volatile boolean closed;
  private volatile IntConsumer onConnection = port -> {};

  private TcpFront(int backend) throws IOException {
    // Backlog 1: the kernel queues at most two unaccepted connections, so a black hole fills up with two fillers.
    this.listener = new ServerSocket(0, 1, TestTls.LOOPBACK);
    this.backend = backend;
    this.acceptor = new Thread(this::acceptLoop, "tcp-front-" + listener.getLocalPort());
    acceptor.setDaemon(true);
  }

  /** A started front relaying to {@code backendPort} on loopback. */
  public static TcpFront start(int backendPort) throws IOException {
    TcpFront f = new TcpFront(backendPort);
    f.acceptor.start();
    return f;
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** Told the backend port of every connection the front relays, before it is relayed. */
  public void onConnection(IntConsumer listener) {
    this.onConnection = listener;
  }

  /** How many connections were relayed to {@code backendPort} so far. */
  public int connectionsTo(int backendPort) {
    AtomicInteger n = connections.get(backendPort);
    return n == null ? 0 : n.get();
  }

  /** From now on, relays to {@code backendPort}; drops every connection relayed so far and ends a black hole. */
  public void forwardTo(int backendPort) {
    synchronized (lock) {
      backend = backendPort;
      held.forEach(TcpFront::reset);
      held.clear();
      lock.notifyAll();
    }
    dropRelayed();
  }

  /**
   * From now on, a connection attempt is never answered: the front stops accepting and fills the listen queue, so
   * the kernel drops the client's SYN and its connect() waits for its timeout. Returns once that holds.
   */
  public void blackhole() throws IOException, InterruptedException {
    synchronized (lock) {
      backend = 0;
    }
    dropRelayed();
    // The acceptor may sit in accept(): one connection wakes it, it sees the black hole and parks.
    hold(connect(CONNECT_MILLIS));
    long deadline = System.nanoTime() + 10_000_000_000L;
    synchronized (lock) {
      while (!parked) {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
          throw new AssertionError("the front's acceptor did not park");
        }
        lock.wait(left);
      }
    }
    // Now nothing accepts: fill the queue until an attempt times out, which is what the client will see.
    for (int i = 0; i < 16; i++) {
      try {
        hold(connect(250));
      } catch (SocketTimeoutException full) {
        return;
      }
    }
    throw new AssertionError("the listen queue of the front never filled up");
  }

  private Socket connect(int timeoutMillis) throws IOException {
    Socket s = new Socket();
    try {
      s.connect(new InetSocketAddress(TestTls.LOOPBACK, port()), timeoutMillis);
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  private void hold(Socket s) {
    synchronized (lock) {
      held.add(s);
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        continue; // closed (the loop ends) or a connection that went away before accept
      }
      int target;
      synchronized (lock) {
        while (backend == 0 && !closed) {
          if (client != null) {
            held.add(client); // accepted but never answered, as a hung server would
            client = null;
          }
          parked = true;
          lock.notifyAll();
          try {
            lock.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        parked = false;
        target = backend;
      }
      if (client != null && !closed) {
        relay(client, target);
      }
    }
  }

  private void relay(Socket client, int target) {
    connections.computeIfAbsent(target, t -> new AtomicInteger()).incrementAndGet();
    onConnection.accept(target);
    Socket server = new Socket();
    try {
      server.connect(new InetSocketAddress(TestTls.LOOPBACK, target), CONNECT_MILLIS);
    } catch (IOException e) {
      reset(client);
      reset(server);
      return;
    }
    relayed.add(client);
    relayed.add(server);
    pump(client, server);
    pump(server, client);
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException ignored) {
        // a reset or a switch: the other side is reset below
      } finally {
        reset(from);
        reset(to);
        relayed.remove(from);
        relayed.remove(to);
      }
    }, "tcp-front-pump");
    t.setDaemon(true);
    t.start();
  }

  private void dropRelayed() {
    for (Socket s : List.copyOf(relayed)) {
      reset(s);
    }
  }

  /** Closes with SO_LINGER 0: the peer sees a reset, not an orderly end. */
  private static void reset(Socket s) {
    try {
      if (!s.isClosed()) {
        s.setSoLinger(true, 0);
      }
    } catch (IOException ignored) {
      // closing anyway
    }
    try {
      s.close();
    } catch (IOException ignored) {
      // already gone
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    synchronized (lock) {
      held.forEach(TcpFront::reset);
      held.clear();
      lock.notifyAll();
    }
    listener.close();
    dropRelayed();
  }
}
