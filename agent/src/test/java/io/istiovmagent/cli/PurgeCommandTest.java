package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.cli.CliTest.Run;
import io.istiovmagent.install.HostsBlock;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `istio-vm-agent purge`, as the package's purge runs it: against a real temporary root. */
class PurgeCommandTest {
  /** A line from the manual guide's `cat hosts >> /etc/hosts`: it maps istiod, so apply comments it out. */
  private static final String SHADOWING = "10.9.9.9 istiod.istio-system.svc legacy-name\n";

  @TempDir
  Path tmp;

  private Path appliedRoot(String hosts) throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.writeString(root.resolve("etc/hosts"), hosts);
    Path bundle = Files.write(tmp.resolve("bundle.tar.gz"), TarGzWriter.write(TestBundles.valid()));
    Run applied = CliTest.cli("--root", root.toString(), "apply", bundle.toString());
    assertEquals(0, applied.code(), applied.err());
    return root;
  }

  @Test
  void removesTheBlockAndRestoresEveryCommentedOutLineByteForByte() throws Exception {
    String original = TestBundles.FOREIGN_HOSTS + SHADOWING + "192.0.2.7\tno-final-newline";
    Path root = appliedRoot(original);
    String applied = Files.readString(root.resolve("etc/hosts"));
    assertTrue(applied.contains(HostsBlock.BEGIN) && applied.contains(HostsBlock.DISABLED), applied);

    Run r = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, r.code(), r.err());
    // The newline apply added after the unterminated last line, to append its block, stays: HostsBlock.remove.
    assertEquals(original + "\n", Files.readString(root.resolve("etc/hosts")));
    assertTrue(r.out().contains("/etc/hosts: removed the istio-vm-agent block, restored 1 line it had commented out"),
        r.out());
  }

  @Test
  void removesTheStateAndRuntimeDirectoriesAndLeavesIstioSidecarsFilesAlone() throws Exception {
    Path root = appliedRoot(TestBundles.FOREIGN_HOSTS);
    Files.createDirectories(root.resolve("run/istio-vm-agent"));
    Files.writeString(root.resolve("run/istio-vm-agent/status.json"), "{}");
    assertTrue(Files.isRegularFile(root.resolve("var/lib/istio-vm-agent/last-known-good.json")));
    Map<String, String> sidecarFiles = sidecarFiles(root);

    Run r = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, r.code(), r.err());
    assertFalse(Files.exists(root.resolve("var/lib/istio-vm-agent")));
    assertFalse(Files.exists(root.resolve("run/istio-vm-agent")));
    assertTrue(Files.isDirectory(root.resolve("var/lib")), "only the agent's own directory goes");
    assertEquals(sidecarFiles, sidecarFiles(root));
    assertTrue(Files.readString(root.resolve("etc/passwd")).contains("istio-proxy"));
    assertTrue(r.out().contains("/var/lib/istio-vm-agent: removed"), r.out());
    assertTrue(r.out().contains("/run/istio-vm-agent: removed"), r.out());
  }

  @Test
  void keepsTheHostsFilesOwnModeAndASecondPurgeChangesNothing() throws Exception {
    Path root = appliedRoot(TestBundles.FOREIGN_HOSTS);
    Path hosts = root.resolve("etc/hosts");
    Files.setPosixFilePermissions(hosts, PosixFilePermissions.fromString("rw-rw-r--"));
    assertEquals(0, CliTest.cli("--root", root.toString(), "purge").code());
    assertEquals("rw-rw-r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(hosts)));

    Map<String, String> before = TreeSnapshot.of(root);
    Run again = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, again.code(), again.err());
    assertEquals(before, TreeSnapshot.of(root));
    assertEquals(List.of("/etc/hosts: no istio-vm-agent block, left as it is",
        "/var/lib/istio-vm-agent: not there, nothing to do", "/run/istio-vm-agent: not there, nothing to do"),
        again.out().lines().toList());
  }

  @Test
  void purgesTheConfiguredStateDirectoryAndDoesNotFollowLinksOutOfIt() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "paths:\n  stateDir: /srv/agent-state\n");
    Path state = Files.createDirectories(root.resolve("srv/agent-state/sub"));
    Path precious = Files.writeString(tmp.resolve("precious"), "keep me");
    Files.createSymbolicLink(state.resolve("link"), precious);
    Files.createSymbolicLink(state.resolve("dir-link"), tmp);

    Run r = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, r.code(), r.err());
    assertFalse(Files.exists(root.resolve("srv/agent-state")));
    assertEquals("keep me", Files.readString(precious));
    assertTrue(Files.isDirectory(tmp.resolve("root")), "the link to a directory was removed, not followed");
  }

  @Test
  void refusesADirectoryTooCloseToTheRoot() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "paths:\n  stateDir: /var\n");
    Path keep = Files.writeString(Files.createDirectories(root.resolve("var/lib/dpkg")).resolve("status"), "x");

    Run r = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, r.code(), r.err());
    assertTrue(Files.exists(keep));
    assertTrue(r.out().contains("/var: left alone"), r.out());
  }

  @Test
  void worksWithABrokenConfigurationAndSaysSo() throws Exception {
    Path root = appliedRoot(TestBundles.FOREIGN_HOSTS);
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "bundle:\n  sourse: typo\n");

    Run r = CliTest.cli("--root", root.toString(), "purge");

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("configuration unreadable"), r.out());
    assertEquals(TestBundles.FOREIGN_HOSTS, Files.readString(root.resolve("etc/hosts")));
    assertFalse(Files.exists(root.resolve("var/lib/istio-vm-agent")));
  }

  @Test
  void refusesWhileTheAgentIsRunningAndChangesNothing() throws Exception {
    Path root = appliedRoot(TestBundles.FOREIGN_HOSTS);
    // A live process whose command line names the agent, standing in for the daemon that wrote status.json.
    Process agent = new ProcessBuilder("bash", "-c", "sleep 60; : istio-vm-agent run").start();
    try {
      new StatusFile(root.resolve("run/istio-vm-agent")).write(new AgentStatus(AgentStatus.FORMAT, agent.pid(), "t",
          TestBundles.NOW, TestBundles.NOW, AgentStatus.Phase.RUNNING, AgentStatus.Health.HEALTHY, List.of(), null,
          null, null, null, null, null));
      Map<String, String> before = TreeSnapshot.of(root);

      Run r = CliTest.cli("--root", root.toString(), "purge");

      assertEquals(PurgeCommand.AGENT_RUNNING, r.code(), r.out());
      assertTrue(r.err().contains("is running (pid " + agent.pid() + ")"), r.err());
      assertEquals(before, TreeSnapshot.of(root));
    } finally {
      agent.destroy();
      agent.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static Map<String, String> sidecarFiles(Path root) throws Exception {
    Map<String, String> all = TreeSnapshot.of(root);
    all.keySet().removeIf(k -> k.contains("istio-vm-agent") || k.equals("etc/hosts") || k.equals("/etc/hosts"));
    assertTrue(all.keySet().stream().anyMatch(k -> k.contains("istio-token")), all.keySet().toString());
    return all;
  }
}
