package io.istiovmagent.packaging;

import static io.istiovmagent.packaging.BootedDebian.waitUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.testing.Slow;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The arm64 package on a booted arm64 Debian 12, its systemd as PID 1 and every program running under qemu-user
 * ({@link Emulation}; the image: {@link DebianImage#cached(String)}): SystemIT's core steps, installed next to the
 * stand-in istio-sidecar with dpkg, configured, onboarded over HTTPS to HEALTHY from {@code istio-vm-onboarding
 * serve} on the host's loopback, its sidecar killed and restarted.
 *
 * <p>What this cannot prove: the unit's seccomp settings (SystemCallFilter=, SystemCallArchitectures=,
 * RestrictNamespaces=). systemd installs them on the qemu process, for aarch64 system call numbers, and the kernel
 * sees qemu's x86-64 calls, so they never match; the amd64 SystemIT remains the proof of the sandbox. The
 * mount-namespace settings (ProtectSystem=, PrivateTmp=, ReadWritePaths=) do apply, and the agent rewrites
 * /etc/hosts under them here too. Each JVM start is 3 to 8 times slower than natively, postinst's class-data dump
 * about 20 s: the waits are longer than SystemIT's. Needs root. Logs: target/systest-arm64/.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
@Slow
class Arm64SystemIT {
  private static final String ARCH = "arm64";
  private static final String AGENT = "istio-vm-agent.service";
  private static final String SIDECAR = "istio.service";
  private static final Map<String, String> LAID_OUT = Map.of(
      "/var/lib/istio/envoy/cluster.env", "istio-proxy:istio-proxy 644",
      "/etc/istio/config/mesh", "istio-proxy:istio-proxy 644",
      "/etc/certs/root-cert.pem", "istio-proxy:istio-proxy 644",
      "/var/run/secrets/tokens/istio-token", "istio-proxy:istio-proxy 640");
  /** The emulated VM is slower at everything: each wait gets this long. */
  private static final Duration WAIT = Duration.ofMinutes(3);

  private final Path logs = Path.of("target/systest-" + ARCH).toAbsolutePath();
  private Path work;
  private Path deb;
  private SystestEndpoint endpoint;
  private BootedDebian vm;
  private String machineId;
  private int done; // the last step that passed

  @BeforeAll
  void setUp() throws Exception {
    Cmd.Result id = Cmd.run(List.of("id", "-u"));
    assertEquals("0", id.out().strip(), "the arm64 system test boots Debian in systemd-nspawn and needs root: run "
        + "./dev/test as root");
    deb = BuiltPackage.deb(ARCH).toAbsolutePath();
    Emulation.assumeCanRun(ARCH);
    BuiltPackage.deleteTree(logs);
    Files.createDirectories(logs);
    work = Files.createTempDirectory(Path.of("/var/tmp"), "istio-vm-agent-systest-" + ARCH);
    Path image = DebianImage.cached(ARCH);
    assertEquals(ARCH, BuiltPackage.elfArchitecture(image.resolve("usr/lib/systemd/systemd")),
        "the image's systemd is " + ARCH + "'s");
    endpoint = new SystestEndpoint(work.resolve("endpoint"), logs.resolve("endpoint.log"));
    endpoint.start();
  }

  @AfterAll
  void tearDown() throws Exception {
    try {
      if (vm != null) {
        vm.close();
      }
    } finally {
      if (endpoint != null) {
        endpoint.stop();
      }
      if (work != null) {
        DebianImage.remove(work);
      }
    }
  }

  @Test
  @Order(1)
  void step1InstallTheSidecarAndTheArm64PackageOnABareArm64Debian() throws Exception {
    machineId = SystestEndpoint.randomHex();
    vm = newVm("arm64vm1", machineId);
    vm.boot();
    assertEquals("aarch64", vm.sh("uname -m").strip(), "the container runs arm64 programs");
    assertEquals("", vm.sh("systemctl --failed --no-legend").strip(), "every unit started (credentials dropped)");
    assertNotEquals(0, vm.exec("sh", "-c", "command -v java").code(), "the VM must have no Java of its own");

    vm.sh("dpkg -i /opt/systest/istio-sidecar.deb");
    Cmd.Result install = vm.exec(Duration.ofMinutes(5), "dpkg", "-i", "/opt/systest/istio-vm-agent.deb");
    assertEquals(0, install.code(), install.all());
    assertEquals("arm64", vm.sh("dpkg-query -W -f='${Architecture}' istio-vm-agent"));
    assertEquals("enabled", vm.sh("systemctl is-enabled " + AGENT).strip());
    await(WAIT, "the unconfigured agent to be active", () -> vm.unitProperty(AGENT, "ActiveState").equals("active"));
    assertTrue(vm.unitProperty(AGENT, "StatusText").startsWith("waiting for configuration"),
        vm.unitProperty(AGENT, "StatusText"));
    assertEquals("0", vm.unitProperty(AGENT, "NRestarts"));
    assertTrue(Files.isRegularFile(vm.file("/var/cache/istio-vm-agent/istio-vm-agent.jsa")),
        "postinst makes the class-data archive, on the emulated arm64 runtime");
    done = 1;
  }

  @Test
  @Order(2)
  void step2ConfiguredItOnboardsOverHttpsAndStartsTheSidecar() throws Exception {
    after(1);
    String pid = vm.unitProperty(AGENT, "MainPID");
    endpoint.configure(vm);
    await(WAIT, "the agent to onboard after its config was written",
        () -> vm.exec(Duration.ofMinutes(2), "istio-vm-agent", "status").code() == 0);
    assertEquals(pid, vm.unitProperty(AGENT, "MainPID"), "the config was picked up without a restart");
    assertEquals("active", vm.unitProperty(AGENT, "ActiveState"));
    for (Map.Entry<String, String> f : LAID_OUT.entrySet()) {
      assertEquals(f.getValue(), vm.sh("stat -L -c '%U:%G %a' " + f.getKey()).strip(), f.getKey());
    }
    String hosts = Files.readString(vm.file("/etc/hosts"));
    assertTrue(hosts.lines().anyMatch(l -> l.matches("192\\.0\\.2\\.10\\s+istiod\\.istio-system\\.svc")),
        "/etc/hosts rewritten under ProtectSystem=strict:\n" + hosts);
    assertEquals("active", vm.unitProperty(SIDECAR, "ActiveState"));
    JsonNode report = endpoint.awaitReport(machineId, r -> r.path("status").asText().equals("HEALTHY")
        && r.path("sidecar").path("ready").asBoolean(), "a HEALTHY report with the sidecar ready", WAIT);
    assertEquals(SystestEndpoint.NAMESPACE, report.path("workload").path("namespace").asText());
    done = 2;
  }

  @Test
  @Order(3)
  void step3TheSidecarDiesSystemdRestartsItTheAgentReportsIt() throws Exception {
    after(2);
    String pid = vm.unitProperty(SIDECAR, "MainPID");
    Instant killedAt = Instant.now();
    vm.sh("kill -KILL " + pid);
    endpoint.awaitReport(machineId, r -> !Instant.parse(r.path("receivedAt").asText()).isBefore(killedAt)
        && !r.path("sidecar").path("state").asText().equals("active/running"), "a report of the dead sidecar", WAIT);
    await(WAIT, "systemd to restart istio.service", () -> {
      String now = vm.unitProperty(SIDECAR, "MainPID");
      return !now.equals(pid) && !now.equals("0") && vm.unitProperty(SIDECAR, "ActiveState").equals("active");
    });
    String newPid = vm.unitProperty(SIDECAR, "MainPID");
    endpoint.awaitReport(machineId, r -> r.path("sidecar").path("restarts").asInt() >= 1
        && r.path("sidecar").path("mainPid").asText().equals(newPid) && r.path("status").asText().equals("HEALTHY"),
        "a HEALTHY report of the restarted sidecar", WAIT);
    assertEquals("0", vm.unitProperty(AGENT, "NRestarts"), "the agent itself never restarted");
    done = 3;
  }

  private void after(int step) {
    assumeTrue(done >= step, "skipped: step " + step + " did not pass, and this one builds on it");
  }

  /** A fresh copy of the arm64 image with its own machine-id, the packages in /opt/systest, cloud-init off. */
  private BootedDebian newVm(String name, String machineId) throws Exception {
    // The container shares the host's network: the stand-in sidecar needs Envoy's port on loopback.
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(TestTls.LOOPBACK, 15021), 500);
      throw new AssertionError("something on this machine already listens on 127.0.0.1:15021 (another container's "
          + "sidecar, an Envoy?): the system test's VMs share the host's network and need that port");
    } catch (IOException free) {
      // nothing there: good
    }
    Path rootfs = DebianImage.copyTo(ARCH, work.resolve(name));
    Files.writeString(rootfs.resolve("etc/machine-id"), machineId + "\n");
    Files.writeString(rootfs.resolve("etc/hostname"), name + "\n");
    Files.writeString(rootfs.resolve("etc/hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\t" + name + "\n");
    Files.createFile(rootfs.resolve("etc/cloud/cloud-init.disabled"));
    Path opt = Files.createDirectories(rootfs.resolve("opt/systest"));
    Files.copy(deb, opt.resolve("istio-vm-agent.deb"));
    Files.copy(SystestEndpoint.buildSidecarStandIn(work), opt.resolve("istio-sidecar.deb"));
    return new BootedDebian(name, rootfs, logs.resolve(name + ".console"));
  }

  /** {@link BootedDebian#waitUntil}, with the agent's and the sidecar's journal in the message if it times out. */
  private void await(Duration limit, String what, BootedDebian.Condition condition) throws Exception {
    try {
      waitUntil(limit, what, condition);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + journal(), e);
    }
  }

  private String journal() {
    try {
      return vm == null ? "" : "\n--- journal ---\n" + vm.exec("journalctl", "--no-pager", "-n", "60", "-u", AGENT,
          "-u", SIDECAR).out();
    } catch (Exception e) {
      return "\n(no journal: " + e + ")";
    }
  }
}
