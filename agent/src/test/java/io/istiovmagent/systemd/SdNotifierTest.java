package io.istiovmagent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SdNotifierTest {
  @TempDir
  Path dir;

  private static Notifier notifierFor(String notifySocket) {
    return Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", notifySocket));
  }

  private static String randomAbstractName() {
    return "@istio-vm-agent-test-" + UUID.randomUUID();
  }

  private static void assertSentOk(Notifier n, String state) {
    assertTrue(n.send(state), () -> "send failed: " + n.lastError().orElse("(no error recorded)"));
    assertEquals(Optional.empty(), n.lastError());
  }

  @Test
  void deliversReadyToFilesystemSocket() {
    Path socket = dir.resolve("notify");
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket)) {
      Notifier n = notifierFor(socket.toString());
      assertTrue(n.enabled());
      assertSentOk(n, Notifications.ready());
      assertEquals("READY=1", systemd.receive());
      assertEquals(Optional.empty(), systemd.poll(), "exactly one datagram");
    }
  }

  @Test
  void deliversReadyToAbstractSocket() {
    String name = randomAbstractName();
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atAbstractName(name)) {
      assertSentOk(notifierFor(name), Notifications.ready());
      assertEquals("READY=1", systemd.receive());
      assertEquals(Optional.empty(), systemd.poll());
    }
  }

  @Test
  void doesNotDeliverToAnAbstractNameOneByteShorter() {
    String name = randomAbstractName();
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atAbstractName(name)) {
      // One byte longer: an address length one short would cut it back to the receiver's name.
      Notifier other = notifierFor(name + "x");
      assertFalse(other.send(Notifications.ready()));
      assertTrue(other.lastError().orElseThrow().contains("Connection refused"), other.lastError().orElseThrow());
      assertEquals(Optional.empty(), systemd.poll());
    }
  }

  @Test
  void deliversLongestPathAndNameThatFitSunPath() {
    // 107 bytes of path plus its NUL fill sun_path; an abstract name may use all 108 bytes, its leading NUL included.
    String prefix = dir.toString() + "/";
    Path socket = Path.of(prefix + "s".repeat(107 - prefix.length()));
    String name = randomAbstractName();
    name = name + "n".repeat(108 - name.length());
    try (UnixDatagramReceiver atPath = UnixDatagramReceiver.atPath(socket);
        UnixDatagramReceiver atName = UnixDatagramReceiver.atAbstractName(name)) {
      assertSentOk(notifierFor(socket.toString()), "READY=1");
      assertSentOk(notifierFor(name), "READY=1");
      assertEquals("READY=1", atPath.receive());
      assertEquals("READY=1", atName.receive());
    }
  }

  @Test
  void deliversMultiLineUtf8MessageIntactInOneDatagram() {
    String name = randomAbstractName();
    String message = "READY=1\nSTATUS=applied bundle sha256:abc — naïve ✓\nX_ISTIO_VM_AGENT=1";
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atAbstractName(name)) {
      assertSentOk(notifierFor(name), message);
      assertEquals(message, systemd.receive());
      assertEquals(Optional.empty(), systemd.poll());
    }
  }

  @Test
  void deliversStatusWithEmbeddedNewlinesAsOneLine() {
    Path socket = dir.resolve("notify");
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket)) {
      assertSentOk(notifierFor(socket.toString()),
          Notifications.readyWithStatus("refused bundle\ncluster.env: line 3\r\nREADY=0"));
      assertEquals("READY=1\nSTATUS=refused bundle cluster.env: line 3  READY=0", systemd.receive());
    }
  }

  @Test
  void reloadingCarriesMonotonicUsecCloseToReceiversClock() {
    String name = randomAbstractName();
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atAbstractName(name)) {
      assertSentOk(notifierFor(name), Notifications.reloading(Notifications.monotonicMicros()));
      String[] lines = systemd.receive().split("\n", -1);
      long receivedAt = UnixDatagramReceiver.monotonicMicros();
      assertEquals(2, lines.length);
      assertEquals("RELOADING=1", lines[0]);
      assertTrue(lines[1].matches("MONOTONIC_USEC=[1-9][0-9]*"), lines[1]);
      long sentAt = Long.parseLong(lines[1].substring("MONOTONIC_USEC=".length()));
      long age = receivedAt - sentAt;
      assertTrue(age >= 0 && age < 1_000_000, "MONOTONIC_USEC is " + age + " µs before the receiver's clock");
    }
  }

  @Test
  void failsWithoutThrowingWhenNothingListensAtThePath() {
    Notifier missing = notifierFor(dir.resolve("no-such-socket").toString());
    assertFalse(missing.send(Notifications.watchdog()));
    assertTrue(missing.lastError().orElseThrow().contains("No such file"), missing.lastError().orElseThrow());

    // The usual case after systemd restarts: the socket file is still there, nobody reads it.
    Path stale = dir.resolve("stale");
    UnixDatagramReceiver.atPath(stale).close();
    Notifier gone = notifierFor(stale.toString());
    assertFalse(gone.send(Notifications.watchdog()));
    assertTrue(gone.lastError().orElseThrow().contains("Connection refused"), gone.lastError().orElseThrow());
  }

  @Test
  void recoversOnceTheSocketIsBackAndClearsTheError() {
    Path socket = dir.resolve("notify");
    Notifier n = notifierFor(socket.toString());
    assertFalse(n.send(Notifications.watchdog()));
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket)) {
      assertSentOk(n, Notifications.watchdog());
      assertEquals("WATCHDOG=1", systemd.receive());
    }
  }

  @Test
  void refusesNamesLongerThanSunPathWithoutCrashing() {
    for (String tooLong : new String[] {"/" + "p".repeat(107), "@" + "n".repeat(108), "/" + "p".repeat(4000)}) {
      Notifier n = notifierFor(tooLong);
      assertTrue(n.enabled());
      assertFalse(n.send(Notifications.ready()));
      assertTrue(n.lastError().orElseThrow().contains("sun_path is 108 bytes"), n.lastError().orElseThrow());
    }
  }

  @Test
  void refusesNotifySocketThatIsNeitherAbsolutePathNorAbstractName() {
    for (String odd : new String[] {"run/systemd/notify", "vsock:2:1234"}) {
      Notifier n = notifierFor(odd);
      assertFalse(n.send(Notifications.ready()));
      assertTrue(n.lastError().orElseThrow().contains("neither an absolute path nor an @abstract name"),
          n.lastError().orElseThrow());
    }
  }

  @Test
  void refusesMessagesSystemdWouldDropAndEmptyOnes() {
    String name = randomAbstractName();
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atAbstractName(name)) {
      Notifier n = notifierFor(name);
      String largest = "STATUS=" + "x".repeat(4096 - "STATUS=".length());
      assertSentOk(n, largest);
      assertEquals(largest, systemd.receive());

      assertFalse(n.send(largest + "x"));
      assertTrue(n.lastError().orElseThrow().contains("systemd ignores messages over 4096 bytes"));
      assertFalse(n.send("READY=1\nSTATUS=a\0b"));
      assertTrue(n.lastError().orElseThrow().contains("NUL byte"));
      assertFalse(n.send(""));
      assertFalse(n.send(null));
      assertEquals(Optional.empty(), systemd.poll());
    }
  }
}
