package io.istiovmagent.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RootFsTest {
  @TempDir
  Path root;

  @Test
  void absoluteLinkTargetsResolveUnderTheRoot() throws IOException {
    Files.createDirectories(root.resolve("run"));
    Files.createDirectories(root.resolve("var"));
    Files.createSymbolicLink(root.resolve("var/run"), Path.of("/run"));
    assertEquals(root.resolve("run/secrets/tokens/istio-token"),
        new RootFs(root).resolve("/var/run/secrets/tokens/istio-token"));
  }

  @Test
  void relativeLinksAndDotDotNeverClimbAboveTheRoot() throws IOException {
    Files.createDirectories(root.resolve("etc"));
    Files.createDirectories(root.resolve("tmp"));
    Files.createSymbolicLink(root.resolve("etc/escape"), Path.of("../../../../../tmp"));
    assertEquals(root.resolve("tmp/x"), new RootFs(root).resolve("/etc/escape/x"));
    assertEquals(root.resolve("etc/hosts"), new RootFs(root).resolve("/../../etc/hosts"));
    assertEquals(root.resolve("etc/hosts"), new RootFs(root).lexical("/../../etc/hosts"));
  }

  @Test
  void linkLoopsAreAnErrorNotAHang() throws IOException {
    Files.createSymbolicLink(root.resolve("a"), Path.of("/b"));
    Files.createSymbolicLink(root.resolve("b"), Path.of("/a"));
    assertThrows(IOException.class, () -> new RootFs(root).resolve("/a/x"));
  }

  @Test
  void readsUsersFromThePasswdUnderTheRoot() throws IOException {
    Files.createDirectories(root.resolve("etc"));
    Files.writeString(root.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\nistio-proxy:x:998:997::/var/lib/istio:/bin/false\n");
    assertEquals(new FileOwner("istio-proxy", 998, 997), new RootFs(root).user("istio-proxy").orElseThrow());
    assertEquals(java.util.Optional.empty(), new RootFs(root).user("nobody"));
  }
}
