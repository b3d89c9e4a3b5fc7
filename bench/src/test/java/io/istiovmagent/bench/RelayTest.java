package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** P7's stand-in for a Kubernetes Service: new connections spread over the replicas that accept them. */
class RelayTest {
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  /** A backend that reads its client's request to the end, then answers NAME:REQUEST and closes. */
  private int backend(String name) throws IOException {
    ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    open.add(s);
    Thread t = new Thread(() -> {
      while (!s.isClosed()) {
        try (Socket c = s.accept()) {
          String request = new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
          c.getOutputStream().write((name + ":" + request).getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
          return;
        }
      }
    });
    t.setDaemon(true);
    t.start();
    return s.getLocalPort();
  }

  private static int freePortNobodyListensOn() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private Relay relay(List<Integer> backends) throws IOException {
    Relay r = new Relay(0, backends);
    open.add(r);
    Thread t = new Thread(r::run);
    t.setDaemon(true);
    t.start();
    return r;
  }

  /** One connection through the relay: sends {@code request}, half-closes, reads the answer to its end. */
  private static String call(Relay r, String request) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), r.port())) {
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput(); // the backend answers only once it has read to the end: half-close must pass through
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void tryOrderIsRoundRobinFromTheConnectionsNumber() {
    assertArrayEquals(new int[] {0, 1}, Relay.order(0, 2));
    assertArrayEquals(new int[] {1, 0}, Relay.order(1, 2));
    assertArrayEquals(new int[] {2, 0, 1}, Relay.order(5, 3));
  }

  @Test
  void handsEachNewConnectionToTheNextReplicaInTurn() throws Exception {
    Relay r = relay(List.of(backend("a"), backend("b")));
    assertEquals(List.of("a:1", "b:2", "a:3", "b:4"), List.of(call(r, "1"), call(r, "2"), call(r, "3"),
        call(r, "4")));
    assertEquals("connections per backend [2, 2], reset (no backend) 0", r.counts());
  }

  @Test
  void skipsAReplicaThatRefusesAndResetsWhenNoneAccepts() throws Exception {
    Relay r = relay(List.of(freePortNobodyListensOn(), backend("b")));
    assertEquals(List.of("b:1", "b:2"), List.of(call(r, "1"), call(r, "2")));
    Relay none = relay(List.of(freePortNobodyListensOn(), freePortNobodyListensOn()));
    assertThrows(IOException.class, () -> {
      String answer = call(none, "x");
      if (answer.isEmpty()) {
        throw new IOException("closed without an answer"); // a reset may also show as the end of the stream
      }
    });
    assertEquals("connections per backend [0, 0], reset (no backend) 1", none.counts());
  }
}
