package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.testing.InodeSnapshot;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's full check every {@link DriftRepair#FULL_CHECK}: it observes and plans, and writes only for a drift. */
class DriftCheckTest {
  @TempDir
  Path tmp;

  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();

  private BundleKeeper restored(Path root) throws Exception {
    RootFs fs = new RootFs(root);
    new Installer(fs, new LastKnownGood(fs.lexical("/var/lib/istio-vm-agent")), TestBundles.CLOCK).install(
        new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(TestBundles.valid())), "s");
    Log log = new Log(new PrintStream(logs, true, StandardCharsets.UTF_8), true);
    BundleKeeper k = new BundleKeeper(fs, TestBundles.CLOCK, host -> List.of(InetAddress.getByName("192.0.2.77")),
        new SplittableRandom(1), log, "test", new StartupTimeline(log, System.nanoTime(), System::nanoTime),
        new CredentialsKeeper(fs, log), new TrustKeeper(fs, log));
    k.configure(ConfigLoader.parse("config.yaml", "# defaults\n"));
    k.restoreLastKnownGood();
    assertTrue(k.installed(), logs.toString());
    return k;
  }

  private static Instant fullCheckDue() {
    return TestBundles.NOW.plus(DriftRepair.FULL_CHECK).plusSeconds(1);
  }

  @Test
  void aFullCheckWithNothingChangedWritesNothing() throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    BundleKeeper k = restored(root);
    Map<String, String> before = InodeSnapshot.of(root);

    assertTrue(k.maintain(fullCheckDue()), "the full check ran");

    assertEquals(before, InodeSnapshot.of(root), "no file's inode, mtime, ctime, owner or mode changed");
    assertFalse(logs.toString().contains("repaired"), logs.toString());
  }

  @Test
  void aFullCheckRepairsADriftedModeAndOnlyThat() throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    BundleKeeper k = restored(root);
    Path token = root.resolve("var/run/secrets/tokens/istio-token");
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r--r--"));
    Map<String, String> before = InodeSnapshot.of(root);

    assertTrue(k.maintain(fullCheckDue()));

    Map<String, String> after = InodeSnapshot.of(root);
    assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(token)));
    assertNotEquals(before.get("/var/run/secrets/tokens/istio-token"), after.get("/var/run/secrets/tokens/istio-token"));
    before.remove("/var/run/secrets/tokens/istio-token");
    after.remove("/var/run/secrets/tokens/istio-token");
    assertEquals(before, after, "nothing but the token was touched");
    assertTrue(logs.toString().contains("repaired /var/run/secrets/tokens/istio-token (repaired: mode set to rw-r-----)"),
        logs.toString());
  }
}
