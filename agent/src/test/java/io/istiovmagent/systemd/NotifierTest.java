package io.istiovmagent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NotifierTest {
  @Test
  void isNoopThatSendsNothingWhenNotifySocketIsUnset() {
    Notifier n = Notifier.fromEnvironment(Map.of("WATCHDOG_USEC", "20000000"));
    assertSame(Notifier.noop(), n);
    assertFalse(n.enabled());
    assertTrue(n.send(Notifications.ready()));
    assertTrue(n.send(null));
    assertEquals(Optional.empty(), n.lastError());
  }

  @Test
  void isNoopWhenNotifySocketIsEmpty() {
    Notifier n = Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", ""));
    assertSame(Notifier.noop(), n);
    assertFalse(n.enabled());
  }

  @Test
  void isRealWhenNotifySocketIsSetEvenIfItIsUnusable() {
    // A bad value is reported by send(), not by start-up, and not by silently doing nothing.
    Notifier n = Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", "relative/notify"));
    assertInstanceOf(SdNotifier.class, n);
    assertTrue(n.enabled());
    assertFalse(n.send(Notifications.ready()));
  }
}
