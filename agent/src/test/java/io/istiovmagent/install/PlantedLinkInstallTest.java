package io.istiovmagent.install;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.testing.PlantedLink;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * `apply` over a symbolic link istio-proxy planted where the agent writes (issue 12). Root must never write, chown
 * or chmod through it: a link at a file is replaced by the file (the rename replaces the link itself), a link at a
 * directory on the way, or at /etc/hosts, is refused with a message naming it.
 */
class PlantedLinkInstallTest {
  @TempDir
  Path tmp;

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "/var/run/secrets/tokens/istio-token, file, replaced",
      "/var/lib/istio/envoy/cluster.env, file, replaced",
      "/etc/istio/config/mesh, file, replaced",
      "/etc/certs/root-cert.pem, file, replaced",
      "/var/lib/istio/envoy/sidecar.env, file, replaced",
      "/var/lib/istio-vm-agent/last-known-good.json, file, replaced",
      "/etc/hosts, file, refused",
      "/var/lib/istio/envoy, directory, refused",
      "/var/run/secrets/tokens, directory, refused"})
  void neverWritesOrChownsThroughAPlantedLink(String systemPath, String kind, String expected) throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    Files.createDirectories(root.resolve("run"));
    Files.createDirectories(root.resolve("var"));
    Files.createSymbolicLink(root.resolve("var/run"), Path.of("/run"));
    Installer installer = installer(root);
    installer.install(verified(Duration.ofHours(1)), "s");
    PlantedLink planted = PlantedLink.at(root, systemPath, kind.equals("directory"));

    IOException refusal = null;
    InstallReport r = null;
    try {
      r = installer.install(verified(Duration.ofHours(2)), "s");
    } catch (IOException e) {
      refusal = e;
    }

    planted.assertTargetUntouched();
    if (expected.equals("refused")) {
      assertNotNull(refusal, systemPath + " was not refused");
      String m = refusal.getMessage();
      assertTrue(m.contains(systemPath) && m.contains("symbolic link"), m);
    } else {
      assertNull(refusal);
      assertTrue(r.warnings().stream().anyMatch(w -> w.contains(systemPath) && w.contains("symbolic link")),
          r.warnings().toString());
      assertTrue(Files.isRegularFile(planted.link(), LinkOption.NOFOLLOW_LINKS), systemPath + " is a file again");
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"/var/run/secrets/tokens/istio-token", "/var/lib/istio/envoy/cluster.env"})
  void theReplacedLinkHoldsTheBundleFileOwnedByIstioProxy(String systemPath) throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    Installer installer = installer(root);
    installer.install(verified(Duration.ofHours(1)), "s");
    PlantedLink planted = PlantedLink.at(root, systemPath, false);
    VerifiedBundle next = verified(Duration.ofHours(2));

    installer.install(next, "s");

    Path p = planted.link();
    assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), systemPath + " is a file again");
    assertEquals(TestBundles.PROXY_UID, Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS));
    if (systemPath.endsWith("istio-token")) {
      assertArrayEquals(next.raw().files().get(BundleFile.TOKEN), Files.readAllBytes(p));
    } else {
      assertArrayEquals(next.clusterEnv().canonicalBytes(), Files.readAllBytes(p));
    }
  }

  private static Installer installer(Path root) {
    RootFs fs = new RootFs(root);
    return new Installer(fs, new LastKnownGood(fs.lexical("/var/lib/istio-vm-agent")), TestBundles.CLOCK);
  }

  private static VerifiedBundle verified(Duration tokenLifetime) throws Exception {
    Map<BundleFile, byte[]> files = TestBundles.valid(tokenLifetime);
    files.put(BundleFile.SIDECAR_ENV, "ISTIO_SVC_IP=10.0.0.3\n".getBytes(StandardCharsets.UTF_8));
    return new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(files));
  }
}
