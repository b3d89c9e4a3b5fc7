package io.istiovmagent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.fs.RootFs;
import io.istiovmagent.testing.InodeSnapshot;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the daemon's 30 s drift check does when nothing drifted: observe, plan, and write nothing. It read the
 * last-known-good twice per check (once to compare, once more inside save()).
 */
class UnchangedInstallTest {
  @TempDir
  Path tmp;

  @Test
  void aCheckOfAnUnchangedInstallReadsTheLastKnownGoodOnceAndWritesNothing() throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    RootFs fs = new RootFs(root);
    AtomicInteger reads = new AtomicInteger();
    LastKnownGood counted = new LastKnownGood(fs.lexical("/var/lib/istio-vm-agent"), f -> {
      reads.incrementAndGet();
      return LastKnownGood.read(f);
    });
    Installer installer = new Installer(fs, counted, TestBundles.CLOCK);
    VerifiedBundle b = new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(TestBundles.valid()));
    installer.install(b, "s");
    Map<String, String> before = InodeSnapshot.of(root);
    reads.set(0);

    InstallReport again = installer.install(b, "s", b.hosts());

    assertEquals(1, reads.get(), "reads of the last-known-good in one check");
    assertEquals(before, InodeSnapshot.of(root), "nothing written, chowned, chmodded or created");
    assertFalse(again.changedAnything(), again.changes().toString());
    reads.set(0);
    assertTrue(installer.plan(b, "s", b.hosts()).isEmpty());
    assertEquals(1, reads.get());
  }
}
