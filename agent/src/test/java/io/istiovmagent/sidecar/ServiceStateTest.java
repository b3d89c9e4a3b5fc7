package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServiceStateTest {

  @ParameterizedTest(name = "{0}/{1}/{2} pid {3} -> installed={4} running={5}")
  @CsvSource({
      "loaded,    active,     running,      4242, true,  true",
      "loaded,    activating, auto-restart, 0,    true,  false",
      "loaded,    activating, start-pre,    0,    true,  false",
      "loaded,    failed,     failed,       0,    true,  false",
      "loaded,    inactive,   dead,         0,    true,  false",
      "loaded,    deactivating, stop-sigterm, 4242, true, false",
      "loaded,    active,     exited,       0,    true,  false",
      "loaded,    active,     running,      0,    true,  false",
      "not-found, inactive,   dead,         0,    false, false",
      "masked,    inactive,   dead,         0,    true,  false"})
  void installedAndRunningFollowSystemdStates(String load, String active, String sub, long pid, boolean installed,
      boolean running) {
    ServiceState s = new ServiceState(load, active, sub, pid, 0, "");
    assertEquals(installed, s.installed());
    assertEquals(running, s.running());
  }

  @Test
  void summaryIsOneReadableLine() {
    assertEquals("active/running pid 4242, 1 restart, enabled",
        new ServiceState("loaded", "active", "running", 4242, 1, "enabled").summary());
    assertEquals("activating/auto-restart, 7 restarts",
        new ServiceState("loaded", "activating", "auto-restart", 0, 7, "").summary());
    assertEquals("not installed", new ServiceState("not-found", "inactive", "dead", 0, 0, "").summary());
  }

  @Test
  void onlyEnabledCountsAsEnabled() {
    assertTrue(new ServiceState("loaded", "active", "running", 1, 0, "enabled").enabled());
    assertFalse(new ServiceState("loaded", "active", "running", 1, 0, "enabled-runtime").enabled());
    assertFalse(new ServiceState("loaded", "active", "running", 1, 0, "disabled").enabled());
  }

  @Test
  void negativeCountersAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new ServiceState("loaded", "active", "running", -1, 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new ServiceState("loaded", "active", "running", 1, -1, ""));
  }
}
