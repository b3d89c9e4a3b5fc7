package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link SystemctlServiceManager} running a real fake {@code systemctl} script, under a temporary root. */
class SystemctlServiceManagerTest {
  private static final String UNIT = "istio.service";
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  /** What systemd 252 (Debian 12) prints for a running istio.service, in its own property order. */
  private static final String RUNNING = "MainPID=4242\nNRestarts=2\nLoadState=loaded\nActiveState=active\n"
      + "SubState=running\nUnitFileState=enabled\n";
  private static final String NOT_FOUND = "MainPID=0\nNRestarts=0\nLoadState=not-found\nActiveState=inactive\n"
      + "SubState=dead\nUnitFileState=\n";

  @TempDir Path root;
  @TempDir Path bin;
  private FakeSystemctl fake;

  @BeforeEach
  void bootedWithSystemd() throws IOException {
    Files.createDirectories(root.resolve("run/systemd/system"));
    fake = FakeSystemctl.install(bin);
  }

  private SystemctlServiceManager manager(Duration timeout) {
    return new SystemctlServiceManager(new RootFs(root), fake.binary, timeout);
  }

  private SystemctlServiceManager manager() {
    return manager(TIMEOUT);
  }

  // ---- state ----

  @Test
  void stateAsksForExactlyTheSixPropertiesAndParsesThem() throws Exception {
    fake.showPrints(RUNNING);

    ServiceState s = manager().state(UNIT);

    assertEquals(new ServiceState("loaded", "active", "running", 4242, 2, "enabled"), s);
    assertTrue(s.installed());
    assertTrue(s.running());
    assertEquals(List.of("[show][istio.service][--property=LoadState,ActiveState,SubState,MainPID,NRestarts,"
        + "UnitFileState]"), fake.calls());
  }

  @Test
  void unknownUnitIsReportedAsNotInstalledNotAsAnError() throws Exception {
    fake.showPrints(NOT_FOUND);

    ServiceState s = manager().state(UNIT);

    assertFalse(s.installed());
    assertFalse(s.running());
    assertEquals("", s.unitFileState());
  }

  @Test
  void unknownPropertiesAreIgnoredAndMissingOnesDefault() throws Exception {
    // An older systemd without NRestarts, an extra property, a line with no '=', CRLF line ends.
    fake.showPrints("InvocationID=0f2c\r\nLoadState=loaded\r\nActiveState=activating\r\nSubState=auto-restart\r\n"
        + "garbage\r\nMainPID=0\r\n");

    ServiceState s = manager().state(UNIT);

    assertEquals(new ServiceState("loaded", "activating", "auto-restart", 0, 0, ""), s);
    assertFalse(s.running());
  }

  @Test
  void outputWithoutLoadStateIsAnErrorBecauseExistenceIsUnknown() throws Exception {
    fake.showPrints("ActiveState=active\n");

    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> manager().state(UNIT));

    assertEquals(ServiceManagerException.Kind.FAILED, e.kind());
    assertContains(e.getMessage(), "printed no LoadState");
  }

  @Test
  void nonNumericMainPidIsAnErrorThatQuotesTheValue() throws Exception {
    fake.showPrints("LoadState=loaded\nMainPID=twelve\n");

    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> manager().state(UNIT));

    assertContains(e.getMessage(), "MainPID=twelve, expected a non-negative number");
  }

  // ---- actions ----

  @Test
  void startAndRestartAreQueuedWithoutBlockingAndEnableIsPlain() throws Exception {
    SystemctlServiceManager m = manager();

    m.start(UNIT);
    m.restart(UNIT);
    m.enable(UNIT);

    assertEquals(List.of("[start][--no-block][istio.service]", "[restart][--no-block][istio.service]",
        "[enable][istio.service]"), fake.calls());
  }

  @Test
  void systemctlRunsInTheCLocaleSoItsOutputIsNotTranslated() throws Exception {
    manager().enable(UNIT);

    assertEquals("C", fake.lcAll());
  }

  @Test
  void failedActionCarriesExitCodeAndStderrAndWhereToLook() throws Exception {
    fake.fails(5, "Failed to start istio.service: Unit istio.service not found.\n");

    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> manager().start(UNIT));

    assertEquals(ServiceManagerException.Kind.FAILED, e.kind());
    assertContains(e.getMessage(), "systemctl start --no-block istio.service failed (exit 5)");
    assertContains(e.getMessage(), "Unit istio.service not found.");
    assertContains(e.getMessage(), "systemctl status istio.service");
  }

  @Test
  void longStderrIsTruncatedInTheMessage() throws Exception {
    fake.fails(1, "x".repeat(20_000) + "\n");

    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> manager().enable(UNIT));

    assertTrue(e.getMessage().length() < 1_000, () -> "message of " + e.getMessage().length() + " chars");
    assertContains(e.getMessage(), "xxx…");
  }

  @Test
  void hungSystemctlIsKilledAtTheTimeoutWithTheChildItStarted() throws Exception {
    fake.hangs();
    Duration timeout = Duration.ofSeconds(1);

    long start = System.nanoTime();
    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> manager(timeout).restart(UNIT));
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertEquals(ServiceManagerException.Kind.TIMED_OUT, e.kind());
    assertContains(e.getMessage(), "did not finish within 1000 ms and was killed");
    assertTrue(took.compareTo(Duration.ofSeconds(5)) < 0, () -> "the call took " + took);
    assertTrue(deadOrZombie(fake.sleeperPid()), "the script's sleeping child is still running");
  }

  /** Gone, or dead and waiting for a parent to reap it (PID 1 in a container may never do that). */
  private static boolean deadOrZombie(long pid) throws IOException {
    Path stat = Path.of("/proc/" + pid + "/stat");
    if (!Files.exists(stat)) {
      return true;
    }
    String s;
    try {
      s = Files.readString(stat);
    } catch (IOException gone) {
      return true;
    }
    return s.substring(s.lastIndexOf(')') + 2).startsWith("Z");
  }

  @ParameterizedTest
  @ValueSource(strings = {"--host=evil.example", "-H", "", "istio service", "istio.service\n"})
  void namesThatSystemctlWouldReadAsOptionsOrSplitAreRefusedBeforeRunningIt(String unit) throws Exception {
    assertThrows(IllegalArgumentException.class, () -> manager().start(unit));
    assertEquals(List.of(), fake.calls());
  }

  // ---- availability ----

  @Test
  void availableWhenBootedWithSystemdAndTheBinaryIsExecutable() {
    assertTrue(manager().available());
    assertInstanceOf(SystemctlServiceManager.class,
        SystemctlServiceManager.detect(new RootFs(root), fake.binary, TIMEOUT));
  }

  @Test
  void notAvailableWithoutRunSystemdSystemAndNothingIsRun() throws Exception {
    Files.delete(root.resolve("run/systemd/system"));
    SystemctlServiceManager m = manager();

    assertFalse(m.available());
    assertContains(m.unavailableReason().orElseThrow(), "/run/systemd/system does not exist");
    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> m.restart(UNIT));
    assertEquals(ServiceManagerException.Kind.UNAVAILABLE, e.kind());
    assertThrows(ServiceManagerException.class, () -> m.state(UNIT));
    assertEquals(List.of(), fake.calls());
  }

  @Test
  void notAvailableWhenTheBinaryIsNotExecutable() throws Exception {
    Files.setPosixFilePermissions(fake.binary, PosixFilePermissions.fromString("rw-r--r--"));
    SystemctlServiceManager m = manager();

    assertFalse(m.available());
    assertContains(m.unavailableReason().orElseThrow(), fake.binary + " is not an executable file");
  }

  @Test
  void detectOnARootWithoutSystemdGivesTheUnavailableManager() throws Exception {
    Files.delete(root.resolve("run/systemd/system"));

    ServiceManager m = SystemctlServiceManager.detect(new RootFs(root), fake.binary, TIMEOUT);

    assertFalse(m.available());
    ServiceManagerException e = assertThrows(ServiceManagerException.class, () -> m.state(UNIT));
    assertEquals(ServiceManagerException.Kind.UNAVAILABLE, e.kind());
    assertContains(e.getMessage(), "cannot read the state of istio.service: no systemd to talk to");
    assertContains(e.getMessage(), "/run/systemd/system does not exist");
  }

  @Test
  void unavailableManagerRefusesEveryActionWithTheReason() {
    ServiceManager m = ServiceManager.unavailable("running in a container");

    assertFalse(m.available());
    for (ThrowingAction a : List.<ThrowingAction>of(() -> m.state(UNIT), () -> m.start(UNIT),
        () -> m.restart(UNIT), () -> m.enable(UNIT))) {
      ServiceManagerException e = assertThrows(ServiceManagerException.class, a::run);
      assertEquals(ServiceManagerException.Kind.UNAVAILABLE, e.kind());
      assertContains(e.getMessage(), "istio.service: no systemd to talk to (running in a container)");
    }
  }

  private interface ThrowingAction {
    void run() throws Exception;
  }

  static void assertContains(String actual, String expected) {
    assertTrue(actual.contains(expected), () -> "expected to contain <" + expected + "> but was <" + actual + ">");
  }
}
