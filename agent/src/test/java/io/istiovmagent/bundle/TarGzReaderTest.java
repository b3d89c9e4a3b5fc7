package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.TarBuilder;
import io.istiovmagent.testing.TestBundles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TarGzReaderTest {
  @TempDir
  Path dir;

  // --- archives made by the real tar, the way operators make them ---

  @Test
  void readsArchiveOfIstioctlOutputDirectoryMadeWithDotPrefix() throws Exception {
    Map<BundleFile, byte[]> files = writeBundleDir(dir.resolve("out"));
    RawBundle b = TarGzReader.read(tar("-C", dir.resolve("out").toString(), "."));
    assertSameFiles(files, b);
  }

  @Test
  void readsArchiveWithFilesUnderOneDirectory() throws Exception {
    Map<BundleFile, byte[]> files = writeBundleDir(dir.resolve("vm-bundle"));
    assertSameFiles(files, TarGzReader.read(tar("-C", dir.toString(), "vm-bundle")));
  }

  @Test
  void readsPosixPaxArchive() throws Exception {
    Map<BundleFile, byte[]> files = writeBundleDir(dir.resolve("out"));
    assertSameFiles(files, TarGzReader.read(tar("--format=posix", "-C", dir.resolve("out").toString(), ".")));
  }

  @Test
  void readsGnuLongNames() throws Exception {
    String longDir = "d".repeat(120);
    Map<BundleFile, byte[]> files = writeBundleDir(dir.resolve(longDir));
    assertSameFiles(files, TarGzReader.read(tar("--format=gnu", "-C", dir.toString(), longDir)));
  }

  @Test
  void refusesSymlinkMadeByTar() throws Exception {
    Path out = dir.resolve("out");
    writeBundleDir(out);
    Files.delete(out.resolve("hosts"));
    Files.createSymbolicLink(out.resolve("hosts"), Path.of("/etc/hosts"));
    assertRule("link", () -> tar("-C", out.toString(), "."));
  }

  @Test
  void refusesHardLinkMadeByTar() throws Exception {
    Path out = dir.resolve("out");
    writeBundleDir(out);
    Files.delete(out.resolve("hosts"));
    Files.createLink(out.resolve("hosts"), out.resolve("cluster.env"));
    assertRule("link", () -> tar("-C", out.toString(), "."));
  }

  @Test
  void refusesFifoMadeByTar() throws Exception {
    Path out = dir.resolve("out");
    writeBundleDir(out);
    Files.delete(out.resolve("hosts"));
    run("mkfifo", out.resolve("hosts").toString());
    assertRule("special-file", () -> tar("-C", out.toString(), "."));
  }

  // --- hostile archives: the hostile-input corpus (src/test/resources/hostile/archive), run through `apply` by
  // reliability.HostileInputTest, holds one archive per attack (paths, links, devices, sizes, damage, bombs) ---

  @Test
  void gzipBombIsRefusedFromItsHeaderBeforeInflating() {
    // 64 MiB of 'A' compresses to well under the body limit; the header's size is refused before content is read.
    byte[] huge = new byte[64 * 1024 * 1024];
    Arrays.fill(huge, (byte) 'A');
    byte[] tarBytes = new TarBuilder().file("hosts", huge).tar();
    byte[] gz = TarBuilder.gzip(tarBytes);
    assertTrue(gz.length < BundleLimits.MAX_TOTAL_BYTES, "the bomb itself fits the body limit: " + gz.length);
    BadBundleException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(BadBundleException.class, () -> TarGzReader.read(gz)));
    assertEquals("size-limit", e.problems().get(0).rule());
  }

  @Test
  void everyRefusalNamesTheArchiveOrFileAndRule() {
    BadBundleException e = assertThrows(BadBundleException.class,
        () -> TarGzReader.read(new TarBuilder().file("evil", "x").gzip()));
    assertEquals("archive: unknown-file: 'evil' is not a bundle file; a bundle holds only cluster.env, mesh.yaml, "
        + "root-cert.pem, istio-token, hosts, sidecar.env", e.problems().get(0).format());
  }

  // --- helpers ---

  private void assertRule(String rule, ThrowingSupplier archive) {
    BadBundleException e = assertThrows(BadBundleException.class, () -> TarGzReader.read(archive.get()));
    assertEquals(rule, e.problems().get(0).rule(), e.problems().toString());
  }

  interface ThrowingSupplier {
    byte[] get() throws Exception;
  }

  private static Map<BundleFile, byte[]> writeBundleDir(Path out) throws IOException {
    Files.createDirectories(out);
    Map<BundleFile, byte[]> files = TestBundles.valid();
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(out.resolve(e.getKey().fileName()), e.getValue());
    }
    return files;
  }

  private static void assertSameFiles(Map<BundleFile, byte[]> expected, RawBundle actual) {
    assertEquals(expected.keySet(), actual.files().keySet());
    expected.forEach((f, b) -> assertArrayEquals(b, actual.files().get(f), f.fileName()));
  }

  private byte[] tar(String... args) throws Exception {
    Path archive = dir.resolve("bundle-" + System.nanoTime() + ".tar.gz");
    List<String> cmd = new ArrayList<>(List.of("tar", "-czf", archive.toString()));
    cmd.addAll(List.of(args));
    run(cmd.toArray(new String[0]));
    return Files.readAllBytes(archive);
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
    }
  }
}
