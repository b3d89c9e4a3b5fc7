package io.istiovmagent.install;

import static io.istiovmagent.testing.TestBundles.PROXY_GID;
import static io.istiovmagent.testing.TestBundles.PROXY_UID;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class InstallerTest {
  @TempDir
  Path tmp;

  private Path root;
  private RootFs fs;

  private Installer installer() {
    fs = new RootFs(root);
    return new Installer(fs, new LastKnownGood(fs.lexical("/var/lib/istio-vm-agent")), TestBundles.CLOCK);
  }

  private static VerifiedBundle verified(Map<BundleFile, byte[]> files) throws Exception {
    return new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(files));
  }

  @Test
  void laysFilesOutWhereIstioSidecarExpectsThem() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Map<BundleFile, byte[]> files = TestBundles.valid();
    InstallReport r = installer().install(verified(files), "test-source");

    assertFile("/etc/certs/root-cert.pem", "rw-r--r--", files.get(BundleFile.ROOT_CERT));
    assertFile("/var/run/secrets/tokens/istio-token", "rw-r-----", files.get(BundleFile.TOKEN));
    assertFile("/etc/istio/config/mesh", "rw-r--r--", files.get(BundleFile.MESH));
    assertFile("/var/lib/istio/envoy/cluster.env", "rw-r--r--", verified(files).clusterEnv().canonicalBytes());
    for (String dir : Destination.DIRECTORIES) {
      Path d = fs.resolve(dir);
      assertTrue(Files.isDirectory(d), dir);
      assertOwner(d, PROXY_UID, PROXY_GID);
    }
    assertEquals(Path.of("/var/lib/istio"), Files.readSymbolicLink(root.resolve("etc/istio")));
    assertTrue(Files.isRegularFile(root.resolve("var/lib/istio/config/mesh")), "mesh went through the symlink");
    String hosts = Files.readString(root.resolve("etc/hosts"));
    assertEquals(TestBundles.FOREIGN_HOSTS + "# BEGIN istio-vm-agent\n192.0.2.10 istiod.istio-system.svc\n"
        + "# END istio-vm-agent\n", hosts);
    assertEquals("rw-r--r--", mode(root.resolve("etc/hosts")));
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());
  }

  @Test
  void installedClusterEnvIsTheCanonicalFormNotTheReceivedBytes() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Map<BundleFile, byte[]> files = TestBundles.with(TestBundles.valid(), BundleFile.CLUSTER_ENV,
        "# operator comment\nPOD_NAMESPACE=vm-namespace\nSERVICE_ACCOUNT='vm-sa'   # trailing\nX='it'\\''s'\n");
    installer().install(verified(files), "s");
    assertEquals("# Written by istio-vm-agent from the bundle; local edits are overwritten.\n"
            + "POD_NAMESPACE='vm-namespace'\nSERVICE_ACCOUNT='vm-sa'\nX='it'\\''s'\n",
        Files.readString(root.resolve("var/lib/istio/envoy/cluster.env")));
  }

  @Test
  void followsAnExistingEtcIstioSymlinkAndKeepsARealDirectory() throws Exception {
    root = TestBundles.newRoot(tmp.resolve("a"), true);
    Files.createDirectories(root.resolve("var/lib/istio"));
    Files.createSymbolicLink(root.resolve("etc/istio"), Path.of("/var/lib/istio"));
    installer().install(verified(TestBundles.valid()), "s");
    assertTrue(Files.isRegularFile(root.resolve("var/lib/istio/config/mesh")));

    root = TestBundles.newRoot(tmp.resolve("b"), true);
    Files.createDirectories(root.resolve("etc/istio"));
    installer().install(verified(TestBundles.valid()), "s");
    assertFalse(Files.isSymbolicLink(root.resolve("etc/istio")));
    assertTrue(Files.isRegularFile(root.resolve("etc/istio/config/mesh")));
  }

  @Test
  void secondApplyOfTheSameBundleRewritesNothing() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    VerifiedBundle b = verified(TestBundles.valid());
    installer().install(b, "s");
    Map<String, String> before = TreeSnapshot.of(root);
    InstallReport second = installer().install(b, "s");
    assertEquals(before, TreeSnapshot.of(root));
    assertFalse(second.changedAnything(), second.changes().toString());
  }

  @Test
  void tokenOnlyChangeRewritesOnlyTheTokenAndTheLastKnownGood() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Map<BundleFile, byte[]> first = TestBundles.valid();
    installer().install(verified(first), "s");
    Map<BundleFile, byte[]> second = new EnumMap<>(first);
    second.put(BundleFile.TOKEN, TestBundles.valid(Duration.ofHours(2)).get(BundleFile.TOKEN));
    InstallReport r = installer().install(verified(second), "s");
    List<String> changed = r.changes().stream().filter(c -> c.action() != Action.UNCHANGED).map(c -> c.path()).toList();
    assertEquals(List.of("/var/lib/istio-vm-agent/last-known-good.json", "/var/run/secrets/tokens/istio-token"), changed);
  }

  @Test
  void leavesRootCertModeToPilotAgentButRepairsAWorldReadableToken() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    VerifiedBundle b = verified(TestBundles.valid());
    installer().install(b, "s");
    Path cert = root.resolve("etc/certs/root-cert.pem");
    Path token = root.resolve("var/run/secrets/tokens/istio-token");
    Files.setPosixFilePermissions(cert, PosixFilePermissions.fromString("rw-------"));
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r--r--"));
    InstallReport r = installer().install(b, "s");
    assertEquals("rw-------", mode(cert));
    assertEquals("rw-r-----", mode(token));
    assertTrue(r.changed("/var/run/secrets/tokens/istio-token"));
    assertFalse(r.changed("/etc/certs/root-cert.pem"));
  }

  @Test
  void writesRootOwnedWithoutIstioProxyAndRepairsOwnershipOnceItExists() throws Exception {
    root = TestBundles.newRoot(tmp, false);
    VerifiedBundle b = verified(TestBundles.valid());
    InstallReport first = installer().install(b, "s");
    assertTrue(first.warnings().get(0).contains("istio-proxy does not exist"), first.warnings().toString());
    Path token = root.resolve("var/run/secrets/tokens/istio-token");
    assertOwner(token, 0, 0);
    Object mtime = Files.getLastModifiedTime(token);

    TestBundles.newRoot(tmp, true);
    InstallReport second = installer().install(b, "s");
    assertOwner(token, PROXY_UID, PROXY_GID);
    assertOwner(root.resolve("etc/certs"), PROXY_UID, PROXY_GID);
    assertEquals(mtime, Files.getLastModifiedTime(token), "ownership repaired without rewriting content");
    assertTrue(second.changes().stream().anyMatch(c -> c.action() == Action.REPAIRED));
  }

  @Test
  void removesSidecarEnvWhenANewBundleNoLongerHasIt() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Map<BundleFile, byte[]> with = TestBundles.valid();
    with.put(BundleFile.SIDECAR_ENV, "ISTIO_SVC_IP=10.0.0.3\n".getBytes(StandardCharsets.UTF_8));
    installer().install(verified(with), "s");
    Path sidecarEnv = root.resolve("var/lib/istio/envoy/sidecar.env");
    assertTrue(Files.exists(sidecarEnv));
    with.remove(BundleFile.SIDECAR_ENV);
    InstallReport r = installer().install(verified(with), "s");
    assertFalse(Files.exists(sidecarEnv));
    assertTrue(r.changes().stream().anyMatch(c -> c.action() == Action.REMOVED));
  }

  @Test
  void keepsLastKnownGoodPrivateAndComplete() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    VerifiedBundle b = verified(TestBundles.valid());
    installer().install(b, "https://plane.example/v1/bundle");
    Path dir = root.resolve("var/lib/istio-vm-agent");
    assertEquals("rwx------", mode(dir));
    assertEquals("rw-------", mode(dir.resolve(LastKnownGood.FILE_NAME)));
    LastKnownGood.Record rec = new LastKnownGood(dir).load().orElseThrow();
    assertEquals(b.revision(), rec.revision());
    assertEquals("https://plane.example/v1/bundle", rec.source());
    assertEquals(TestBundles.NOW, rec.savedAt());
    assertArrayEquals(b.raw().files().get(BundleFile.TOKEN), rec.bundle().files().get(BundleFile.TOKEN));
  }

  /**
   * A last-known-good that cannot be read (cut short, emptied, from another format version) is replaced, as the
   * warning says: it used to make save() throw, so `apply` exited 74 and the daemon retried for ever without ever
   * installing a bundle or sending READY=1.
   */
  @ParameterizedTest
  @ValueSource(strings = {"{\"format\":1,\"source\":\"x\",\"revi", "", "{\"format\":2,\"files\":{}}",
      "{\"format\":1,\"source\":\"s\",\"revision\":\"r\",\"savedAt\":\"x\",\"files\":{\"cluster.env\":\"%%\"}}"})
  void replacesALastKnownGoodThatCannotBeRead(String damaged) throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Path dir = Files.createDirectories(root.resolve("var/lib/istio-vm-agent"));
    Files.writeString(dir.resolve(LastKnownGood.FILE_NAME), damaged);
    VerifiedBundle b = verified(TestBundles.valid());

    InstallReport r = installer().install(b, "s");

    assertEquals(b.revision(), new LastKnownGood(dir).load().orElseThrow().revision());
    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("could not be read and is replaced")),
        r.warnings().toString());
    assertFile("/var/run/secrets/tokens/istio-token", "rw-r-----", b.raw().files().get(BundleFile.TOKEN));
  }

  @Test
  void shadowingHostsLineFromTheManualGuideIsCommentedOutWithAWarning() throws Exception {
    root = TestBundles.newRoot(tmp, true);
    Files.writeString(root.resolve("etc/hosts"), TestBundles.FOREIGN_HOSTS + "10.128.0.42 istiod.istio-system.svc\n");
    InstallReport r = installer().install(verified(TestBundles.valid()), "s");
    String hosts = Files.readString(root.resolve("etc/hosts"));
    assertTrue(hosts.contains("#istio-vm-agent-disabled# 10.128.0.42 istiod.istio-system.svc\n"), hosts);
    assertTrue(hosts.startsWith(TestBundles.FOREIGN_HOSTS), hosts);
    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("commented out")), r.warnings().toString());
  }

  @Test
  void rewritesABindMountedEtcHostsInPlaceWithAWarning() throws Exception {
    root = TestBundles.newRoot(tmp.resolve("root"), true);
    Path hosts = root.resolve("etc/hosts");
    Path outside = Files.writeString(tmp.resolve("hosts-outside"), TestBundles.FOREIGN_HOSTS);
    Assumptions.assumeTrue(run("mount", "--bind", outside.toString(), hosts.toString()) == 0,
        "bind-mounting a file needs root (CAP_SYS_ADMIN); CI runs as root");
    try {
      InstallReport r = installer().install(verified(TestBundles.valid()), "s");
      assertTrue(r.warnings().stream().anyMatch(w -> w.contains("rewritten in place")), r.warnings().toString());
      assertTrue(Files.readString(outside).contains("# BEGIN istio-vm-agent"), "the mounted file itself changed");
      assertTrue(Files.readString(outside).startsWith(TestBundles.FOREIGN_HOSTS));
    } finally {
      assertEquals(0, run("umount", hosts.toString()));
    }
  }

  private static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor();
  }

  private void assertFile(String systemPath, String mode, byte[] content) throws Exception {
    Path p = fs.resolve(systemPath);
    assertArrayEquals(content, Files.readAllBytes(p), systemPath);
    assertEquals(mode, mode(p), systemPath);
    assertOwner(p, PROXY_UID, PROXY_GID);
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  private static void assertOwner(Path p, int uid, int gid) throws Exception {
    assertEquals(uid, Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS), "uid of " + p);
    assertEquals(gid, Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS), "gid of " + p);
  }
}
