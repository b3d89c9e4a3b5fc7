package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.Repo;
import io.istiovmagent.testing.UnitFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * istio-vm-agent.service as the package installs it: how systemd starts, watches and restarts the agent, and how
 * little the sandbox leaves it. systemd-analyze scores the sandbox offline (no running systemd needed).
 */
class AgentUnitTest {
  private static final Path UNIT = Repo.path("systemd/istio-vm-agent.service");
  private static final Path TMPFILES = Repo.path("systemd/tmpfiles.d/istio-vm-agent.conf");
  /** The exposure the unit must stay at or under ("OK" is up to 4.9; systemd's own daemons score 1-3). */
  private static final double MAX_EXPOSURE = 2.5;
  private static UnitFile unit;

  @BeforeAll
  static void read() throws Exception {
    unit = UnitFile.read(UNIT);
  }

  @Test
  void systemdAnalyzeScoresTheSandboxAtMost2point5() throws Exception {
    String analyze = Cmd.require("systemd-analyze", "systemd");
    Cmd.Result r = Cmd.run(List.of(analyze, "security", "--offline=true", "--no-pager", UNIT.toString()));
    Matcher m = Pattern.compile("Overall exposure level for istio-vm-agent\\.service: (\\d+\\.\\d+)").matcher(r.all());
    assertTrue(m.find(), () -> "no exposure level in systemd-analyze's output (exit " + r.code() + "):\n" + r.all());
    double exposure = Double.parseDouble(m.group(1));
    io.istiovmagent.testing.ProofSummary.note("unit sandbox (systemd-analyze security --offline)",
        "exposure " + exposure + " (limit " + MAX_EXPOSURE + ")");
    assertTrue(exposure <= MAX_EXPOSURE, () -> "exposure " + exposure + " > " + MAX_EXPOSURE + ":\n" + r.out());
  }

  @Test
  void startsAsANotifyServiceWhoseMainProcessAloneMayNotify() {
    assertEquals("notify", unit.value("Service/Type"));
    assertEquals("main", unit.value("Service/NotifyAccess"));
    assertEquals("/usr/bin/istio-vm-agent run", unit.value("Service/ExecStart"));
  }

  @Test
  void isWatchedRestartedOnFailureAndTakesSigtermAsSuccess() {
    assertEquals("30s", unit.value("Service/WatchdogSec"));
    assertEquals("on-failure", unit.value("Service/Restart"));
    assertEquals(List.of("143"), unit.words("Service/SuccessExitStatus"));
  }

  @Test
  void startsOnceTheNetworkIsUpAndBeforeTheSidecar() {
    assertEquals(List.of("network-online.target"), unit.words("Unit/Wants"));
    assertEquals(List.of("network-online.target"), unit.words("Unit/After"));
    assertEquals(List.of("istio.service"), unit.words("Unit/Before"));
    assertEquals(List.of("multi-user.target"), unit.words("Install/WantedBy"));
    for (String key : List.of("Unit/After", "Unit/Requires", "Unit/BindsTo", "Unit/Wants")) {
      // Ordered after cloud-init, a start from cloud-init's runcmd would wait for itself (docs/cloud-init.md).
      assertFalse(unit.words(key).stream().anyMatch(u -> u.startsWith("cloud-")), key + " names cloud-init");
    }
  }

  @Test
  void aStartThatNeverGetsReadyIsBoundedNotInfinite() {
    // A configured agent sends READY=1 only with a bundle; infinity would let a dead endpoint hold boot forever.
    Duration timeout = parse(unit.value("Service/TimeoutStartSec"));
    assertTrue(timeout.compareTo(Duration.ofMinutes(1)) >= 0 && timeout.compareTo(Duration.ofMinutes(5)) <= 0,
        "TimeoutStartSec " + timeout);
    assertTrue(parse(unit.value("Service/TimeoutStopSec")).getSeconds() > 5, "more than the agent's 5 s stop grace");
  }

  @Test
  void writesOnlyIstioSidecarsPlacesItsOwnDirectoriesEtcHostsAndNodeExportersTextfiles() {
    assertEquals("strict", unit.value("Service/ProtectSystem"));
    // "-": node-exporter's directory may be absent, and a missing ReadWritePaths= must not fail the start.
    assertEquals(List.of("/etc/hosts", "/etc/certs", "/var/lib/istio", "/run/secrets",
        "-" + io.istiovmagent.config.AgentConfig.DEFAULT_TEXTFILE_DIR), unit.words("Service/ReadWritePaths"));
    assertEquals("istio-vm-agent", unit.value("Service/StateDirectory"));
    assertEquals("0700", unit.value("Service/StateDirectoryMode"));
    assertEquals("istio-vm-agent", unit.value("Service/RuntimeDirectory"));
  }

  @Test
  void keepsOnlyTheCapabilitiesForOwnershipAndTheSettingsThatWouldBreakTheAgentAreAbsent() {
    assertEquals(Set.of("CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE"),
        Set.copyOf(unit.words("Service/CapabilityBoundingSet")));
    assertNull(unit.value("Service/AmbientCapabilities"));
    assertEquals("yes", unit.value("Service/NoNewPrivileges"));
    // The JIT needs writable+executable memory; PrivateUsers would hide istio-proxy and root from systemd.
    assertNull(unit.value("Service/MemoryDenyWriteExecute"));
    assertNull(unit.value("Service/PrivateUsers"));
    assertNull(unit.value("Service/User"), "root: it chowns to istio-proxy and asks systemd to start istio.service");
    assertTrue(unit.words("Service/RestrictAddressFamilies").containsAll(List.of("AF_UNIX", "AF_INET", "AF_INET6")),
        "systemctl reaches systemd over AF_UNIX");
    assertEquals("@system-service", unit.all("Service/SystemCallFilter").get(0));
    assertTrue(unit.words("Service/SystemCallFilter").contains("@chown"), "chown must stay allowed");
  }

  @Test
  void tmpfilesCreatesEveryWritablePathTheUnitNeedsAndChangesNothingThatExists(@TempDir Path root) throws Exception {
    List<String> created = new ArrayList<>();
    for (String line : Files.readAllLines(TMPFILES, StandardCharsets.UTF_8)) {
      String[] f = line.strip().split("\\s+");
      if (f.length >= 2 && !f[0].startsWith("#")) {
        created.add(f[1]);
        assertEquals("-", f[2], "never a mode for an existing path: " + line);
      }
    }
    for (String p : unit.words("Service/ReadWritePaths")) {
      if (p.startsWith("-")) {
        continue; // optional: not the agent's to create (node-exporter's directory)
      }
      assertTrue(created.contains(p), p + " is writable in the unit but nothing creates it before the start");
    }
    assertEquals("+/usr/bin/systemd-tmpfiles --create istio-vm-agent.conf", unit.value("Service/ExecStartPre"));

    String tmpfiles = Cmd.require("systemd-tmpfiles", "systemd");
    Path certs = Files.createDirectories(root.resolve("etc/certs"));
    Files.setPosixFilePermissions(certs, PosixFilePermissions.fromString("rwx------"));
    Files.writeString(root.resolve("etc/hosts"), "127.0.0.1 localhost\n");
    Files.createDirectories(root.resolve("var/lib"));
    Files.createDirectories(root.resolve("run"));
    Cmd.Result r = Cmd.run(List.of(tmpfiles, "--root=" + root, "--create", TMPFILES.toAbsolutePath().toString()));
    assertEquals(0, r.code(), r.all());

    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(certs)));
    assertEquals("127.0.0.1 localhost\n", Files.readString(root.resolve("etc/hosts")));
    assertTrue(Files.isDirectory(root.resolve("var/lib/istio")));
    assertTrue(Files.isDirectory(root.resolve("run/secrets")));
    assertEquals(Path.of("/var/lib/istio"), Files.readSymbolicLink(root.resolve("etc/istio")));
  }

  private static Duration parse(String systemdTime) {
    Matcher m = Pattern.compile("(\\d+)(min|s)").matcher(systemdTime);
    assertTrue(m.matches(), "a plain number of s or min: " + systemdTime);
    long n = Long.parseLong(m.group(1));
    return m.group(2).equals("min") ? Duration.ofMinutes(n) : Duration.ofSeconds(n);
  }
}
