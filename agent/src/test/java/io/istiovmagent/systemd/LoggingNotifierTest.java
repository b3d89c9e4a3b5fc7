package io.istiovmagent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Failures to notify systemd are logged once with their errno, and so is the recovery: against a real socket. */
class LoggingNotifierTest {
  private static final int ECONNREFUSED = 111;
  private static final int ENOENT = 2;

  @TempDir
  Path dir;

  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private final Log log = new Log(new PrintStream(logs, true, StandardCharsets.UTF_8), false);

  private String logs() {
    return logs.toString(StandardCharsets.UTF_8);
  }

  private static long lines(String text, String what) {
    return text.lines().filter(l -> l.contains(what)).count();
  }

  @Test
  void theErrnoOfAFailedSendIsKept() {
    Path socket = dir.resolve("notify");
    Notifier sd = Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()));
    try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket)) {
      assertTrue(sd.send(Notifications.watchdog()));
      assertEquals(OptionalInt.empty(), sd.lastErrno());
    }
    assertFalse(sd.send(Notifications.watchdog()));
    assertEquals(OptionalInt.of(ECONNREFUSED), sd.lastErrno());
  }

  @Test
  void aSocketThatGoesAwayIsLoggedOnceWithItsErrnoAndItsReturnOnce() throws Exception {
    Path socket = dir.resolve("notify");
    Notifier n = new LoggingNotifier(Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString())), log);
    UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket);
    assertTrue(n.send(Notifications.ready()));
    assertEquals("READY=1", systemd.receive());
    systemd.close();

    for (int i = 0; i < 5; i++) {
      assertFalse(n.send(Notifications.watchdog()));
    }
    assertEquals(1, lines(logs(), "cannot notify systemd"), logs());
    assertTrue(logs().startsWith("<3>"), logs());
    assertTrue(logs().contains("WATCHDOG=1") && logs().contains("errno " + ECONNREFUSED), logs());

    // Another errno is another failure: logged once more.
    Files.delete(socket);
    assertFalse(n.send(Notifications.watchdog()));
    assertFalse(n.send(Notifications.status("x")));
    assertEquals(2, lines(logs(), "cannot notify systemd"), logs());
    assertTrue(logs().contains("errno " + ENOENT), logs());

    try (UnixDatagramReceiver back = UnixDatagramReceiver.atPath(socket)) {
      assertTrue(n.send(Notifications.watchdog()));
      assertTrue(n.send(Notifications.watchdog()));
      assertEquals("WATCHDOG=1", back.receive());
    }
    assertEquals(1, lines(logs(), "notifying systemd works again"), logs());
    assertEquals(2, lines(logs(), "cannot notify systemd"), logs());
  }
}
