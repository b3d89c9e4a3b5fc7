package io.istiovmagent.cli;

import static io.istiovmagent.cli.CliTest.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.cli.CliTest.Run;
import io.istiovmagent.testing.InodeSnapshot;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `apply --dry-run`: fetches and verifies as apply does, prints the plan, writes nothing. */
class ApplyDryRunTest {
  @TempDir
  Path tmp;

  private Path tar(Map<BundleFile, byte[]> files) throws Exception {
    Path f = tmp.resolve("bundle-" + System.nanoTime() + ".tar.gz");
    Files.write(f, TarGzWriter.write(files));
    return f;
  }

  /** Content, owner, mode, inode, mtime and ctime of every entry; a temporary file left behind is a new entry. */
  private static String snapshot(Path root) throws Exception {
    return TreeSnapshot.of(root) + "\n" + InodeSnapshot.of(root);
  }

  /** The paths of the indented lines: the plan's steps, or the report's changes other than "unchanged". */
  private static Set<String> paths(String out) {
    return out.lines().filter(l -> l.startsWith("  ") && !l.strip().startsWith("unchanged"))
        .map(l -> l.strip().split("\\s+")[1]).collect(Collectors.toCollection(TreeSet::new));
  }

  @Test
  void aDryRunOverAnInstalledBundleWritesNothingAndNamesWhatApplyThenDoes() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Map<BundleFile, byte[]> first = TestBundles.valid();
    assertEquals(0, cli("--root", root.toString(), "apply", tar(first).toString()).code());
    Map<BundleFile, byte[]> second = new EnumMap<>(first);
    second.put(BundleFile.TOKEN, TestBundles.valid(Duration.ofHours(2)).get(BundleFile.TOKEN));
    Path source = tar(second);
    String before = snapshot(root);

    Run dry = cli("--root", root.toString(), "apply", "--dry-run", source.toString());

    assertEquals(0, dry.code(), dry.err());
    assertEquals(before, snapshot(root));
    assertTrue(dry.out().startsWith("dry run: applying bundle sha256:"), dry.out());
    assertTrue(dry.out().contains("nothing was written"), dry.out());
    assertTrue(dry.out().contains("  write      /var/run/secrets/tokens/istio-token"), dry.out());
    assertEquals(Set.of("/var/lib/istio-vm-agent/last-known-good.json", "/var/run/secrets/tokens/istio-token"),
        paths(dry.out()));
    assertFalse(dry.out().contains(new String(second.get(BundleFile.TOKEN)).strip()), "the token is never printed");

    Run applied = cli("--root", root.toString(), "apply", source.toString());
    assertEquals(0, applied.code(), applied.err());
    assertEquals(paths(dry.out()), paths(applied.out()), applied.out());

    Run again = cli("--root", root.toString(), "apply", "--dry-run", source.toString());
    assertEquals(0, again.code());
    assertTrue(again.out().contains("is already in place; apply would change nothing"), again.out());
    assertEquals(Set.of(), paths(again.out()));
  }

  @Test
  void aDryRunOnAnEmptyRootCreatesNothing() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Path source = tar(TestBundles.valid());
    String before = snapshot(root);

    Run dry = cli("--root", root.toString(), "apply", "--dry-run", source.toString());

    assertEquals(0, dry.code(), dry.err());
    assertEquals(before, snapshot(root), "no directory, link, state or temporary file made");
    for (String line : new String[] {"  save       /var/lib/istio-vm-agent/last-known-good.json",
        "  symlink    /etc/istio", "  mkdir      /var/run/secrets/tokens/", "  hosts      /etc/hosts"}) {
      assertTrue(dry.out().contains(line), line + " in\n" + dry.out());
    }
    Run applied = cli("--root", root.toString(), "apply", source.toString());
    assertEquals(paths(dry.out()), paths(applied.out()), applied.out());
  }

  @Test
  void aDryRunExitsAsApplyWould() throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    String before = snapshot(root);

    Map<BundleFile, byte[]> bad = TestBundles.valid();
    TestBundles.with(bad, BundleFile.HOSTS, "10.9.9.9 istiod.istio-system.svc\n127.0.0.1 localhost\n");
    assertEquals(65, cli("--root", root.toString(), "apply", "--dry-run", tar(bad).toString()).code());
    assertEquals(69, cli("--root", root.toString(), "apply", "--dry-run", tmp.resolve("gone").toString()).code());
    assertEquals(78, cli("--root", root.toString(), "apply", "--dry-run", "http://127.0.0.1:1/v1/bundle").code());
    assertEquals(before, snapshot(root));

    Path hosts = root.resolve("etc/hosts");
    Path elsewhere = Files.move(hosts, root.resolve("etc/hosts.real"));
    Files.createSymbolicLink(hosts, elsewhere.getFileName());
    String linked = snapshot(root);
    Run refused = cli("--root", root.toString(), "apply", "--dry-run", tar(TestBundles.valid()).toString());
    assertEquals(74, refused.code(), refused.err());
    assertTrue(refused.err().contains("apply would refuse /etc/hosts: /etc/hosts is a symbolic link"), refused.err());
    assertEquals(linked, snapshot(root));
  }
}
