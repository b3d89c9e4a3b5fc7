package io.istiovmagent.onboarding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.Repo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * packaging/kubectl-vm, the kubectl plugin: kubectl runs it as {@code kubectl vm ARGS}, and it must run
 * {@code istio-vm-onboarding vms ARGS} with every argument as it was (spaces, quotes and all).
 */
class KubectlVmPluginTest {
  private static final Path PLUGIN = Repo.root().resolve("packaging/kubectl-vm");

  @TempDir
  Path bin;

  /** A stand-in launcher that prints each of its arguments in angle brackets. */
  private void launcher(String name) throws Exception {
    Path f = Files.writeString(bin.resolve(name), "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private String run(Map<String, String> env, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(PLUGIN.toString())));
    pb.command().addAll(List.of(args));
    pb.environment().put("PATH", bin + ":/usr/bin:/bin");
    pb.environment().putAll(env);
    Process p = pb.redirectErrorStream(true).start();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void itIsAnExecutableShellScript() throws Exception {
    assertTrue(Files.isExecutable(PLUGIN), PLUGIN + " must be executable for kubectl to find it");
    assertTrue(Files.readString(PLUGIN).startsWith("#!/bin/sh\n"), "POSIX sh: no bash on a minimal laptop image");
  }

  @Test
  void kubectlVmIsTheVmsCommandWithEveryArgumentKept() throws Exception {
    launcher("istio-vm-onboarding");
    assertEquals("<vms><-n><bar><--group><a b><-o><wide><it's \"quoted\">",
        run(Map.of(), "-n", "bar", "--group", "a b", "-o", "wide", "it's \"quoted\""));
    assertEquals("<vms>", run(Map.of()));
  }

  @Test
  void aLauncherElsewhereIsNamedByIstioVmOnboarding() throws Exception {
    launcher("my-launcher");
    assertEquals("<vms><-A>", run(Map.of("ISTIO_VM_ONBOARDING", bin.resolve("my-launcher").toString()), "-A"));
  }
}
