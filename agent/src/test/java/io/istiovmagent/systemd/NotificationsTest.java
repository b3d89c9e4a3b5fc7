package io.istiovmagent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NotificationsTest {
  @Test
  void buildsTheFixedAssignments() {
    assertEquals("READY=1", Notifications.ready());
    assertEquals("WATCHDOG=1", Notifications.watchdog());
    assertEquals("STOPPING=1", Notifications.stopping());
    assertEquals("RELOADING=1\nMONOTONIC_USEC=123456789", Notifications.reloading(123_456_789L));
    assertEquals("READY=1\nSTATUS=applied bundle sha256:abc",
        Notifications.readyWithStatus("applied bundle sha256:abc"));
  }

  @Test
  void statusTurnsLineBreaksAndControlCharactersIntoSpaces() {
    assertEquals("STATUS=a b  c d e f", Notifications.status("a\nb\r\nc\td\u0000e\u2028f"));
    assertEquals("STATUS=trailing newline dropped", Notifications.status("trailing newline dropped\n"));
  }

  @Test
  void statusIsCappedWithAnEllipsis() {
    String status = Notifications.status("x".repeat(1000));
    assertEquals("STATUS=" + "x".repeat(Notifications.MAX_STATUS_CHARS - 1) + "…", status);
    String exact = "y".repeat(Notifications.MAX_STATUS_CHARS);
    assertEquals("STATUS=" + exact, Notifications.status(exact));
  }

  @Test
  void statusCapNeverSplitsASurrogatePair() {
    // U+1F600 is two chars; put its high half exactly where the cut falls.
    String text = "a".repeat(Notifications.MAX_STATUS_CHARS - 2) + "\uD83D\uDE00" + "tail";
    String value = Notifications.status(text).substring("STATUS=".length());
    assertEquals("a".repeat(Notifications.MAX_STATUS_CHARS - 2) + "…", value);
    String roundTrip = new String(value.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    assertEquals(value, roundTrip);
  }

  @Test
  void reloadingRefusesATimeThatCannotComeFromTheMonotonicClock() {
    assertThrows(IllegalArgumentException.class, () -> Notifications.reloading(0));
    assertThrows(IllegalArgumentException.class, () -> Notifications.reloading(-1));
  }

  @Test
  void monotonicMicrosMatchesAnIndependentClockGettime() {
    long before = UnixDatagramReceiver.monotonicMicros();
    long ours = Notifications.monotonicMicros();
    long after = UnixDatagramReceiver.monotonicMicros();
    assertTrue(before <= ours && ours <= after, before + " <= " + ours + " <= " + after);
  }
}
