package io.istiovmagent.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.PlantedLink;
import io.istiovmagent.testing.TestBundles;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which links the agent follows on the way to a directory, and that a directory opened once stays the one written
 * to, whatever is swapped in on its path afterwards.
 */
class DirHandleTest {
  private static final FileOwner PROXY = new FileOwner("istio-proxy", TestBundles.PROXY_UID, TestBundles.PROXY_GID);

  @TempDir
  Path root;

  private RootFs fs;
  private Path istio;

  @BeforeEach
  void istioSidecarLayout() throws Exception {
    fs = new RootFs(root);
    istio = Files.createDirectories(root.resolve("var/lib/istio/envoy")).getParent();
    Files.setAttribute(istio, "unix:uid", TestBundles.PROXY_UID);
    Files.setAttribute(istio.resolve("envoy"), "unix:uid", TestBundles.PROXY_UID);
    Files.createDirectories(root.resolve("etc"));
    Files.createDirectories(root.resolve("run"));
  }

  @Test
  void followsTheLinksOnlyRootCouldHaveMade() throws Exception {
    Files.createSymbolicLink(root.resolve("etc/istio"), Path.of("/var/lib/istio"));
    Files.createSymbolicLink(root.resolve("var/run"), Path.of("/run"));
    try (DirHandle d = fs.openDirectory("/etc/istio/envoy", false)) {
      assertEquals("/var/lib/istio/envoy", d.systemPath());
    }
    try (DirHandle d = fs.openDirectory("/var/run", false)) {
      assertEquals("/run", d.systemPath());
    }
  }

  @Test
  void refusesALinkInADirectoryIstioProxyOwnsEvenIfRootOwnsTheLink() throws Exception {
    Files.createSymbolicLink(istio.resolve("config"), Path.of("/etc"));

    UnsafePathException e = assertThrows(UnsafePathException.class,
        () -> fs.openDirectory("/var/lib/istio/config", false));
    assertTrue(e.getMessage().contains("/var/lib/istio/config is a symbolic link in /var/lib/istio"), e.getMessage());
    assertTrue(e.getMessage().contains("rm /var/lib/istio/config"), e.getMessage());
  }

  @Test
  void refusesALinkIstioProxyOwnsEvenInRootsOwnDirectory() throws Exception {
    Path link = Files.createSymbolicLink(root.resolve("etc/istio"), Path.of("/var/lib/istio"));
    Files.setAttribute(link, "unix:uid", TestBundles.PROXY_UID, LinkOption.NOFOLLOW_LINKS);

    UnsafePathException e = assertThrows(UnsafePathException.class,
        () -> fs.openDirectory("/etc/istio/config", true));
    assertTrue(e.getMessage().contains("/etc/istio (on the way to /etc/istio/config) is a symbolic link owned by"),
        e.getMessage());
  }

  @Test
  void refusesALinkInAGroupWritableDirectory() throws Exception {
    Path shared = Files.createDirectories(root.resolve("srv/shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxr-x"));
    Files.createSymbolicLink(shared.resolve("certs"), Path.of("/etc"));

    assertThrows(UnsafePathException.class, () -> fs.openDirectory("/srv/shared/certs", false));
  }

  /** The race the handle exists for: the check passes, then istio-proxy swaps the directory for a link. */
  @Test
  void aDirectorySwappedForALinkAfterOpeningCannotRedirectTheWriteOrTheChown() throws Exception {
    Files.writeString(istio.resolve("envoy/cluster.env"), "old\n");
    try (DirHandle envoy = fs.openDirectory("/var/lib/istio/envoy", false)) {
      Files.move(istio.resolve("envoy"), istio.resolve("envoy.moved"));
      PlantedLink planted = PlantedLink.at(root, "/var/lib/istio/envoy", true);
      Files.createSymbolicLink(istio.resolve("envoy.moved/root-owned"), Path.of("../../../../etc/profile.d/zz-evil.sh"));

      AtomicFile.write(envoy, "cluster.env", "new\n".getBytes(StandardCharsets.UTF_8), PROXY,
          PosixFilePermissions.fromString("rw-r--r--"));
      assertThrows(FileSystemException.class, () -> envoy.chown("root-owned", PROXY),
          "a name that is a link is not followed by a chown either (ELOOP)");
      assertThrows(FileSystemException.class, () -> envoy.chmod("root-owned", Set.of()));

      planted.assertTargetUntouched();
      assertArrayEquals("new\n".getBytes(StandardCharsets.UTF_8),
          Files.readAllBytes(istio.resolve("envoy.moved/cluster.env")), "written where the handle was opened");
      assertEquals(TestBundles.PROXY_UID,
          Files.getAttribute(istio.resolve("envoy.moved/cluster.env"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
      assertFalse(Files.exists(root.resolve("etc/profile.d/cluster.env")));
    }
    assertThrows(UnsafePathException.class, () -> fs.openDirectory("/var/lib/istio/envoy", false),
        "opened afresh, the planted link is refused");
  }
}
