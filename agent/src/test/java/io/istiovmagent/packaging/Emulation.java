package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Running another architecture's programs on this amd64 machine: qemu-user, registered in the kernel's binfmt_misc
 * with the F flag, so that the kernel runs an aarch64 ELF through qemu wherever it is started, in a chroot or a
 * container too. Where binfmt_misc is not mounted (a machine without systemd, after a boot) it is mounted here, as
 * dev/ensure-tools does.
 *
 * <p>What emulation cannot show: seccomp. systemd installs the unit's filters (SystemCallFilter=,
 * SystemCallArchitectures=, RestrictNamespaces=) on the qemu process, built for aarch64 system call numbers, and the
 * kernel sees qemu's x86-64 calls: they never match. The amd64 system test remains the proof of the sandbox.
 */
final class Emulation {
  private static final Path BINFMT = Path.of("/proc/sys/fs/binfmt_misc");

  private Emulation() {}

  /** qemu's name for the architecture's CPU: the binfmt_misc entry is qemu-NAME. */
  static String qemuName(String arch) {
    return switch (arch) {
      case "arm64" -> "aarch64";
      default -> throw new IllegalArgumentException("no emulation for " + arch);
    };
  }

  /**
   * Makes sure the kernel runs the architecture's programs through qemu, mounting binfmt_misc and registering
   * qemu's handler if need be. Skips the test only when binfmt_misc cannot be had at all (a container that may not
   * mount it); a missing qemu-user-static is a failure, as any missing tool is.
   */
  static synchronized void assumeCanRun(String arch) throws IOException, InterruptedException {
    Path entry = BINFMT.resolve("qemu-" + qemuName(arch));
    if (enabled(entry)) {
      return;
    }
    if (!Files.exists(BINFMT.resolve("register"))) {
      Cmd.Result mount = Cmd.run(List.of("mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT.toString()));
      assumeTrue(mount.code() == 0, "skipped: " + arch + " programs cannot run on this machine: binfmt_misc is not "
          + "mounted and cannot be (" + mount.all().strip() + "); the arm64 package is then also not buildable here");
    }
    Cmd.require("qemu-" + qemuName(arch) + "-static", "qemu-user-static");
    Cmd.Result enable = Cmd.run(List.of(Cmd.require("update-binfmts", "binfmt-support"), "--enable",
        "qemu-" + qemuName(arch)));
    assertEquals(0, enable.code(), enable.all());
    assertTrue(enabled(entry), entry + " is not enabled after update-binfmts --enable");
  }

  /** The program the kernel runs the architecture's programs with (binfmt_misc's "interpreter" line). */
  static String interpreter(String arch) throws IOException {
    return Files.readAllLines(BINFMT.resolve("qemu-" + qemuName(arch))).stream()
        .filter(l -> l.startsWith("interpreter ")).map(l -> l.substring("interpreter ".length())).findFirst()
        .orElseThrow(() -> new AssertionError("no interpreter for qemu-" + qemuName(arch) + " in binfmt_misc"));
  }

  private static boolean enabled(Path entry) throws IOException {
    return Files.isRegularFile(entry) && Files.readAllLines(entry).contains("enabled");
  }
}
