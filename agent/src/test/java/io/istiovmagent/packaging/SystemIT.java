package io.istiovmagent.packaging;

import static io.istiovmagent.packaging.BootedDebian.waitUntil;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.testing.Slow;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * The package on a real booted Debian 12 with systemd (see {@link BootedDebian}): installed with apt from a signed
 * repository next to a stand-in istio-sidecar package, configured, started with systemctl, its sidecar killed,
 * rebooted with the onboarding endpoint down, upgraded with apt, purged; and a second VM onboarded by cloud-init from
 * the package's example user-data, installing from the same repository. The onboarding endpoint is
 * {@code istio-vm-onboarding serve}, the apt repository (packaging/apt/build-repo, signed with a key this test
 * generates) a static HTTP server, both on the host's loopback.
 *
 * <p>The steps build on each other and run in order on one container (the second VM boots after the first is
 * powered off: both stand-in sidecars listen on 127.0.0.1:15021 of the shared network). A step whose predecessor
 * failed is skipped, saying so. Needs root (systemd-nspawn, nsenter, chroot). Logs: target/systest/.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
@Slow
class SystemIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String AGENT = "istio-vm-agent.service";
  private static final String SIDECAR = "istio.service";
  private static final String SIDECAR_LOG = "/var/log/istio/istio.log";
  /** The files the agent lays out, as istio-sidecar expects them (install.Destination), as stat prints them. */
  private static final Map<String, String> LAID_OUT = Map.of(
      "/var/lib/istio/envoy/cluster.env", "istio-proxy:istio-proxy 644",
      "/etc/istio/config/mesh", "istio-proxy:istio-proxy 644",
      "/etc/certs/root-cert.pem", "istio-proxy:istio-proxy 644",
      "/var/run/secrets/tokens/istio-token", "istio-proxy:istio-proxy 640");
  /** A VM's /etc/hosts before onboarding, with a stale istiod line the agent must comment out (and purge restore). */
  private static final String HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tvm1\n10.99.0.1 istiod.istio-system.svc\n\n"
      + "# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\n"
      + "ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n";

  /** Where the VMs keep the repository's key: its own file, named by the source's Signed-By. */
  private static final String KEYRING = "/etc/apt/keyrings/istio-vm-agent.asc";

  private final Path logs = Path.of("target/systest").toAbsolutePath();
  private Path work;
  private Path deb;
  private String version;
  private AptRepository apt;
  private String archiveKey;
  private StaticHttpServer aptServer;
  private Path sidecarDeb;
  private SystestEndpoint endpoint;
  private BootedDebian vm;
  private String machineId;
  private int done; // the last step that passed

  @BeforeAll
  void setUp() throws Exception {
    Cmd.Result id = Cmd.run(List.of("id", "-u"));
    assertEquals("0", id.out().strip(), "the system test boots Debian in systemd-nspawn and needs root: run "
        + "./dev/test as root");
    BuiltPackage.deleteTree(logs);
    Files.createDirectories(logs);
    work = Files.createTempDirectory(Path.of("/var/tmp"), "istio-vm-agent-systest");
    deb = BuiltPackage.deb().toAbsolutePath();
    version = BuiltPackage.debianVersion();
    sidecarDeb = SystestEndpoint.buildSidecarStandIn(work);
    // The repository a fleet installs from, holding the built package; step 5 publishes a newer version into it.
    apt = new AptRepository(Files.createDirectories(work.resolve("apt")));
    archiveKey = apt.newKey("istio-vm-agent systest archive");
    apt.build(List.of(archiveKey), deb);
    aptServer = new StaticHttpServer(apt.dir());
    DebianImage.cached();
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
      if (aptServer != null) {
        aptServer.close();
      }
      if (apt != null) {
        apt.close();
      }
      if (work != null) {
        DebianImage.remove(work);
      }
    }
  }

  @Test
  @Order(1)
  void step1InstallTheSidecarAndThePackageOnABareDebianWithoutJava() throws Exception {
    machineId = SystestEndpoint.randomHex();
    vm = newVm("vm1", machineId);
    Files.writeString(vm.file("/etc/hosts"), HOSTS);
    vm.boot();
    assertNotEquals(0, vm.exec("sh", "-c", "command -v java").code(), "the VM must have no Java of its own");

    vm.sh("dpkg -i /opt/systest/istio-sidecar.deb");
    assertEquals("istio-proxy", vm.sh("id -un istio-proxy").strip());
    byte[] hostsBefore = Files.readAllBytes(vm.file("/etc/hosts"));

    // The signature matters: trusting another key, apt refuses the repository and knows no such package.
    try (AptRepository other = new AptRepository(Files.createDirectories(work.resolve("other-key")))) {
      addRepository(vm, other.publicKey(other.newKey("not the archive key")));
    }
    Cmd.Result refused = vm.exec(Duration.ofMinutes(2), "apt-get", "update");
    assertNotEquals(0, refused.code(), refused.all());
    assertTrue(refused.all().contains("NO_PUBKEY"), refused.all());
    assertNotEquals(0, vm.exec(Duration.ofMinutes(2), "apt-get", "install", "-y", "istio-vm-agent").code());

    addRepository(vm, apt.publicKey(archiveKey));
    Cmd.Result update = vm.exec(Duration.ofMinutes(2), "apt-get", "update");
    assertEquals(0, update.code(), update.all());
    assertFalse(update.all().contains("W:"), update.all());
    Cmd.Result install = vm.exec(Duration.ofMinutes(2), "sh", "-c",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y istio-vm-agent");
    assertEquals(0, install.code(), install.all());
    assertEquals(version, vm.sh("dpkg-query -W -f '${Version}' istio-vm-agent"));
    assertEquals("enabled", vm.sh("systemctl is-enabled " + AGENT).strip());
    // Unconfigured: it starts, says so, and waits (no crash loop).
    await(Duration.ofSeconds(60), "the unconfigured agent to be active",
        () -> vm.unitProperty(AGENT, "ActiveState").equals("active"));
    assertTrue(vm.unitProperty(AGENT, "StatusText").startsWith("waiting for configuration"),
        vm.unitProperty(AGENT, "StatusText"));
    assertEquals("0", vm.unitProperty(AGENT, "NRestarts"));
    assertTrue(Files.isRegularFile(vm.file("/var/cache/istio-vm-agent/istio-vm-agent.jsa")),
        "postinst makes the class-data archive");
    assertArrayEquals(hostsBefore, Files.readAllBytes(vm.file("/etc/hosts")), "nothing to do yet: hosts untouched");
    Files.write(work.resolve("hosts.before"), hostsBefore);
    done = 1;
    passed();
  }

  @Test
  @Order(2)
  void step2ConfigureAndStartTheAgentItOnboardsAndStartsTheSidecar() throws Exception {
    after(1);
    String pid = vm.unitProperty(AGENT, "MainPID");
    endpoint.configure(vm);
    // The running agent notices the new file by itself (no restart), fetches, lays out, starts istio.service.
    await(Duration.ofSeconds(60), "the agent to onboard after its config was written",
        () -> vm.exec("istio-vm-agent", "status").code() == 0);
    assertEquals(pid, vm.unitProperty(AGENT, "MainPID"), "the config was picked up without a restart");

    // systemctl start of the configured agent: blocks until READY=1.
    vm.sh("systemctl stop " + AGENT);
    Cmd.Result start = vm.exec(Duration.ofMinutes(2), "systemctl", "start", AGENT);
    assertEquals(0, start.code(), () -> start.all() + journal());
    assertEquals("active", vm.unitProperty(AGENT, "ActiveState"));
    await(Duration.ofSeconds(30), "the restarted agent to be healthy",
        () -> vm.exec("istio-vm-agent", "status").code() == 0);

    for (Map.Entry<String, String> f : LAID_OUT.entrySet()) {
      assertEquals(f.getValue(), vm.sh("stat -L -c '%U:%G %a' " + f.getKey()).strip(), f.getKey());
    }
    String hosts = Files.readString(vm.file("/etc/hosts"));
    assertTrue(hosts.lines().anyMatch(l -> l.matches("192\\.0\\.2\\.10\\s+istiod\\.istio-system\\.svc")), hosts);
    assertTrue(hosts.lines().noneMatch(l -> l.startsWith("10.99.0.1")), "the stale istiod line is commented out:\n"
        + hosts);
    assertTrue(hosts.contains("127.0.1.1\tvm1\n"), hosts);

    assertEquals("active", vm.unitProperty(SIDECAR, "ActiveState"));
    assertEquals("enabled", vm.sh("systemctl is-enabled " + SIDECAR).strip(), "the agent enables istio.service");
    assertEquals("0", vm.unitProperty(SIDECAR, "NRestarts"), "the sidecar never started without its files");
    assertTrue(sidecarStarts().stream().allMatch(l -> l.contains("token=present")), sidecarStarts().toString());

    JsonNode report = endpoint.awaitReport(machineId, r -> r.path("status").asText().equals("HEALTHY")
        && r.path("sidecar").path("ready").asBoolean(), "a HEALTHY report with the sidecar ready");
    assertEquals(SystestEndpoint.NAMESPACE, report.path("workload").path("namespace").asText());
    done = 2;
    passed();
  }

  @Test
  @Order(3)
  void step3TheSidecarDiesSystemdRestartsItTheAgentReportsIt() throws Exception {
    after(2);
    String pid = vm.unitProperty(SIDECAR, "MainPID");
    long killedAt = System.currentTimeMillis();
    vm.sh("kill -KILL " + pid);
    JsonNode down = endpoint.awaitReport(machineId, r -> receivedAfter(r, killedAt)
        && !r.path("sidecar").path("state").asText().equals("active/running"), "a report of the dead sidecar");
    // istio.service: Restart=always, RestartSec=10.
    await(Duration.ofSeconds(40), "systemd to restart istio.service", () -> {
      String now = vm.unitProperty(SIDECAR, "MainPID");
      return !now.equals(pid) && !now.equals("0") && vm.unitProperty(SIDECAR, "ActiveState").equals("active");
    });
    String newPid = vm.unitProperty(SIDECAR, "MainPID");
    JsonNode back = endpoint.awaitReport(machineId, r -> r.path("sidecar").path("restarts").asInt() >= 1
        && r.path("sidecar").path("mainPid").asText().equals(newPid) && r.path("status").asText().equals("HEALTHY"),
        "a HEALTHY report of the restarted sidecar");
    System.out.printf("sidecar killed: reported %s, back as pid %s with %d restart(s)%n",
        down.path("sidecar").path("state").asText(), newPid, back.path("sidecar").path("restarts").asInt());
    done = 3;
    passed();
  }

  @Test
  @Order(4)
  void step4RebootWithTheEndpointDownTheTokenIsBackBeforeTheSidecarStarts() throws Exception {
    after(3);
    String token = vm.sh("sha256sum /var/run/secrets/tokens/istio-token"); // /run: a tmpfs of the container
    endpoint.stop();
    vm.poweroff();
    Files.writeString(vm.file(SIDECAR_LOG), ""); // from here on, only this boot's sidecar starts
    vm.boot();

    await(Duration.ofSeconds(60), "istio.service after the reboot",
        () -> vm.unitProperty(SIDECAR, "ActiveState").equals("active"));
    assertEquals("active", vm.unitProperty(AGENT, "ActiveState"), this::journal);
    assertEquals(token, vm.sh("sha256sum /var/run/secrets/tokens/istio-token"), "the same token, restored to /run");
    List<String> starts = sidecarStarts();
    assertFalse(starts.isEmpty());
    assertTrue(starts.get(0).contains("token=present"), "the sidecar's first start after boot: " + starts);
    assertEquals("0", vm.unitProperty(SIDECAR, "NRestarts"));
    long agentReady = Long.parseLong(vm.unitProperty(AGENT, "ActiveEnterTimestampMonotonic"));
    long sidecarStart = Long.parseLong(vm.unitProperty(SIDECAR, "ExecMainStartTimestampMonotonic"));
    assertTrue(agentReady > 0 && agentReady <= sidecarStart,
        "the agent was READY (" + agentReady + ") before the sidecar started (" + sidecarStart + ")");
    done = 4;
    passed();
  }

  @Test
  @Order(5)
  void step5UpgradeRestartsTheAgentAndNotTheSidecar() throws Exception {
    after(4);
    endpoint.start();
    String agentPid = vm.unitProperty(AGENT, "MainPID");
    String sidecarPid = vm.unitProperty(SIDECAR, "MainPID");
    byte[] config = Files.readAllBytes(vm.file("/etc/istio-vm-agent/config.yaml"));

    // A newer version published into the repository: the same package with a higher Version, its files byte for
    // byte the same (AptRepository.withVersion). To apt and dpkg that is a release: apt picks it as the candidate
    // and dpkg runs the real upgrade (prerm upgrade NEW, unpack over the old files, postinst configure OLD).
    String newer = version + "+systest1";
    apt.build(List.of(archiveKey), AptRepository.withVersion(deb, newer, work));
    Cmd.Result update = vm.exec(Duration.ofMinutes(2), "apt-get", "update");
    assertEquals(0, update.code(), update.all());
    Cmd.Result upgrade = vm.exec(Duration.ofMinutes(3), "sh", "-c",
        "DEBIAN_FRONTEND=noninteractive apt-get upgrade -y");
    assertEquals(0, upgrade.code(), upgrade.all());
    assertEquals(newer, vm.sh("dpkg-query -W -f '${Version}' istio-vm-agent"), upgrade.all());
    await(Duration.ofSeconds(60), "the agent to be restarted and ready", () -> {
      String pid = vm.unitProperty(AGENT, "MainPID");
      return !pid.equals(agentPid) && !pid.equals("0") && vm.unitProperty(AGENT, "ActiveState").equals("active");
    });
    assertEquals(sidecarPid, vm.unitProperty(SIDECAR, "MainPID"), "the sidecar kept running through the upgrade");
    assertArrayEquals(config, Files.readAllBytes(vm.file("/etc/istio-vm-agent/config.yaml")), "the conffile kept");
    await(Duration.ofSeconds(60), "the upgraded agent to be healthy",
        () -> vm.exec("istio-vm-agent", "status").code() == 0);
    done = 5;
    passed();
  }

  @Test
  @Order(6)
  void step7PurgeRestoresHostsRemovesStateLeavesTheSidecarAlone() throws Exception {
    after(5);
    String sidecarPid = vm.unitProperty(SIDECAR, "MainPID");
    assertEquals("", vm.sh("dpkg --verify istio-sidecar"));

    Cmd.Result purge = vm.exec(Duration.ofMinutes(2), "dpkg", "--purge", "istio-vm-agent");
    assertEquals(0, purge.code(), purge.all());
    assertArrayEquals(Files.readAllBytes(work.resolve("hosts.before")), Files.readAllBytes(vm.file("/etc/hosts")),
        "/etc/hosts as before the agent was installed");
    for (String gone : List.of("/var/lib/istio-vm-agent", "/var/cache/istio-vm-agent", "/run/istio-vm-agent",
        "/usr/lib/istio-vm-agent", "/usr/bin/istio-vm-agent", "/lib/systemd/system/istio.service.d",
        "/usr/lib/systemd/system/istio-vm-agent.service")) {
      assertNotEquals(0, vm.exec("test", "-e", gone).code(), gone + " is left after purge");
    }
    assertEquals("not-found", vm.unitProperty(AGENT, "LoadState"));
    assertEquals("", vm.unitProperty(SIDECAR, "DropInPaths"), "systemd forgot the drop-in");
    // istio-sidecar: its files as its package installed them, its user, its service still running.
    assertEquals("", vm.sh("dpkg --verify istio-sidecar"));
    assertEquals("istio-proxy", vm.sh("id -un istio-proxy").strip());
    assertEquals(sidecarPid, vm.unitProperty(SIDECAR, "MainPID"));
    assertTrue(Files.isRegularFile(vm.file("/var/lib/istio/envoy/cluster.env")), "the laid-out files stay");
    vm.close();
    vm = null;
    done = 7;
    passed();
  }

  @Test
  @Order(7)
  void step6CloudInitOnboardsAFreshVmFromTheExampleUserData() throws Exception {
    // Independent of the steps above, but the first VM must be off (one 127.0.0.1:15021 for both sidecars).
    assumeTrue(vm == null || done == 7, "skipped: the first VM is still running because an earlier step failed");
    endpoint.start();
    String id = SystestEndpoint.randomHex();
    vm = newVm("vm2", id);
    Files.delete(vm.file("/etc/cloud/cloud-init.disabled"));
    // An image with istio-sidecar baked in (the example installs only the agent).
    DebianImage.inChroot(vm.rootfs(), "dpkg -i /opt/systest/istio-sidecar.deb");
    Path seed = Files.createDirectories(vm.file("/var/lib/cloud/seed/nocloud"));
    Files.writeString(seed.resolve("meta-data"), "instance-id: systest-vm2\nlocal-hostname: vm2\n");
    Files.writeString(seed.resolve("user-data"), endpoint.userData(aptServer.url(), apt.publicKey(archiveKey)));
    Files.writeString(vm.file("/etc/cloud/cloud.cfg.d/90-systest-datasource.cfg"),
        "datasource_list: [ NoCloud, None ]\n");
    vm.boot();

    Cmd.Result ci = vm.exec(Duration.ofMinutes(3), "cloud-init", "status", "--wait", "--long");
    assertEquals(0, ci.code(), "cloud-init did not finish cleanly:\n" + ci.all()
        + vm.exec("tail", "-n", "40", "/var/log/cloud-init-output.log").out());
    assertTrue(vm.sh("apt-cache policy istio-vm-agent").contains(aptServer.url()), "installed from the repository");
    await(Duration.ofSeconds(90), "the agent installed by cloud-init to onboard",
        () -> vm.exec("istio-vm-agent", "status").code() == 0);
    for (Map.Entry<String, String> f : LAID_OUT.entrySet()) {
      assertEquals(f.getValue(), vm.sh("stat -L -c '%U:%G %a' " + f.getKey()).strip(), f.getKey());
    }
    assertEquals("active", vm.unitProperty(SIDECAR, "ActiveState"));
    endpoint.awaitReport(id, r -> r.path("status").asText().equals("HEALTHY"), "a HEALTHY report from vm2");
    passed();
  }

  // --- the pieces ---

  /** A step's row in the reliability summary: the hardened unit doing its whole job on a booted Debian. */
  private static void passed() {
    io.istiovmagent.testing.ProofSummary.add("hardened unit on a booted Debian 12 (SystemIT)", "steps passed", 1);
  }

  private void after(int step) {
    assumeTrue(done >= step, "skipped: step " + step + " did not pass, and this one builds on it");
  }

  /** A fresh copy of the image with its own machine-id, the packages in /opt/systest, cloud-init off. */
  private BootedDebian newVm(String name, String machineId) throws IOException, InterruptedException {
    // The container shares the host's network: its sidecar needs Envoy's port on loopback, and the agent would
    // take anything else answering there for its sidecar.
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(TestTls.LOOPBACK, 15021), 500);
      throw new AssertionError("something on this machine already listens on 127.0.0.1:15021 (another container's "
          + "sidecar, an Envoy?): the system test's VMs share the host's network and need that port");
    } catch (IOException free) {
      // nothing there: good
    }
    Path rootfs = DebianImage.copyTo(work.resolve(name));
    Files.writeString(rootfs.resolve("etc/machine-id"), machineId + "\n");
    Files.writeString(rootfs.resolve("etc/hostname"), name + "\n");
    Files.createFile(rootfs.resolve("etc/cloud/cloud-init.disabled"));
    // No Debian mirror: the package's dependencies are all in the image, and the test must not depend on the
    // network once the image is cached. The VM's only apt source is the agent's repository.
    Files.writeString(rootfs.resolve("etc/apt/sources.list"), "# the system test's VM: no Debian mirror\n");
    Path opt = Files.createDirectories(rootfs.resolve("opt/systest"));
    Files.copy(sidecarDeb, opt.resolve("istio-sidecar.deb"));
    return new BootedDebian(name, rootfs, logs.resolve(name + ".console"));
  }

  /**
   * The agent's repository as docs/apt-repository.md tells an operator to add it: the key in its own file under
   * /etc/apt/keyrings, a deb822 source that trusts it (Signed-By) for this repository alone.
   */
  private void addRepository(BootedDebian vm, String armoredKey) throws IOException {
    Files.createDirectories(vm.file("/etc/apt/keyrings"));
    Files.writeString(vm.file(KEYRING), armoredKey);
    Files.writeString(vm.file("/etc/apt/sources.list.d/istio-vm-agent.sources"), "Types: deb\nURIs: "
        + aptServer.url() + "\nSuites: stable\nComponents: main\nSigned-By: " + KEYRING + "\n");
  }



  /** The stand-in sidecar's start lines ("start pid=... token=present|missing at=..."). */
  private List<String> sidecarStarts() throws IOException {
    Path log = vm.file(SIDECAR_LOG);
    return Files.exists(log) ? Files.readAllLines(log).stream().filter(l -> l.startsWith("start ")).toList()
        : List.of();
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

  private static boolean receivedAfter(JsonNode report, long epochMillis) {
    return java.time.Instant.parse(report.path("receivedAt").asText()).toEpochMilli() >= epochMillis;
  }


}
