package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A Debian root file system booted with its own systemd as PID 1 in a container: {@code systemd-nspawn --boot
 * --register=no --keep-unit} (this machine has no systemd of its own to register with). The container shares the
 * host's network, so it reaches a server on the host's loopback and the host reaches its ports. Commands run in it
 * through {@code nsenter} into the namespaces of its PID 1. Powering it off and booting the same directory again
 * is a reboot: {@code /run} starts empty.
 */
final class BootedDebian implements AutoCloseable {
  private static final Map<String, String> ENV = Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", "LANG", "C.UTF-8");
  private final String name;
  private final Path rootfs;
  private final Path console;
  private Process nspawn;
  private long pid1;

  /**
   * @param rootfs a copy of {@link DebianImage} this container may change
   * @param console where the container's console goes (boot messages, for a failure's diagnosis)
   */
  BootedDebian(String name, Path rootfs, Path console) {
    this.name = name;
    this.rootfs = rootfs;
    this.console = console;
  }

  Path rootfs() {
    return rootfs;
  }

  /** A path inside the container, seen from the host (the container's / is {@link #rootfs}). */
  Path file(String absolute) {
    return rootfs.resolve(absolute.substring(1));
  }

  /** Boots the container and waits until systemd says the boot is over (running, or degraded: then says why). */
  BootedDebian boot() throws Exception {
    if (nspawn != null && nspawn.isAlive()) {
      throw new IllegalStateException(name + " is already running");
    }
    nspawn = new ProcessBuilder(Cmd.require("systemd-nspawn", "systemd-container"), "-D", rootfs.toString(),
        "--machine=" + name, "--boot", "--register=no", "--keep-unit", "-q", "--console=pipe")
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(console.toFile()))
        .redirectErrorStream(true).start();
    waitUntil(Duration.ofSeconds(30), "the container's systemd to start", () -> findPid1().isPresent());
    pid1 = findPid1().orElseThrow();
    // Until systemd listens on its socket, systemctl cannot connect and prints nothing on stdout: ask again.
    Cmd.Result[] state = new Cmd.Result[1];
    waitUntil(Duration.ofMinutes(2), name + "'s systemd to answer" + console(), () -> {
      state[0] = exec(Duration.ofMinutes(2), "systemctl", "is-system-running", "--wait");
      return !state[0].out().isBlank();
    });
    String s = state[0].out().strip();
    if (!s.equals("running")) {
      String failed = exec("systemctl", "--failed", "--no-legend").out();
      if (!s.equals("degraded")) {
        throw new AssertionError(name + ": boot ended " + s + " (" + state[0].err().strip() + "); failed units:\n"
            + failed + console());
      }
      System.out.printf("%s: booted, degraded; failed units:%n%s", name, failed);
    }
    return this;
  }

  /** systemd-nspawn's child that runs /sbin/init (systemd, in the container's own PID namespace). */
  private Optional<Long> findPid1() {
    return nspawn.children().filter(p -> comm(p.pid()).equals("systemd")).map(ProcessHandle::pid).findFirst();
  }

  private static String comm(long pid) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
    } catch (IOException e) {
      return "";
    }
  }

  /** Runs a program in the container as root, with a plain PATH; a minute at most. */
  Cmd.Result exec(String... argv) throws IOException, InterruptedException {
    return exec(Duration.ofMinutes(1), argv);
  }

  Cmd.Result exec(Duration timeout, String... argv) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(Cmd.require("nsenter", "util-linux"), "-t", Long.toString(pid1),
        "-a", "--", "/usr/bin/env", "-i"));
    ENV.forEach((k, v) -> cmd.add(k + "=" + v));
    cmd.addAll(List.of(argv));
    return Cmd.run(cmd, Map.of(), timeout);
  }

  /** Runs a shell script in the container (sh -euc); it must succeed. Returns its standard output. */
  String sh(String script) throws IOException, InterruptedException {
    Cmd.Result r = exec(Duration.ofMinutes(3), "/bin/sh", "-euc", script);
    assertEquals(0, r.code(), name + ": " + script + "\n" + r.all());
    return r.out();
  }

  /** One property of a unit, as {@code systemctl show -p NAME --value} prints it. */
  String unitProperty(String unit, String property) throws IOException, InterruptedException {
    return sh("systemctl show -p " + property + " --value " + unit).strip();
  }

  /** Asks systemd to power the container off and waits for it to be gone. */
  void poweroff() throws IOException, InterruptedException {
    if (nspawn == null || !nspawn.isAlive()) {
      return;
    }
    exec("systemctl", "poweroff"); // its connection may drop as systemd goes down: the exit tells nothing
    if (!nspawn.waitFor(90, TimeUnit.SECONDS)) {
      nspawn.destroyForcibly().waitFor();
      throw new AssertionError(name + " did not power off within 90 s" + console());
    }
  }

  /** The end of the console log, for a failure message. */
  String console() {
    try {
      return "\n--- console of " + name + " (end) ---\n" + DebianImage.tail(Files.readString(console));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      poweroff();
    } finally {
      if (nspawn != null && nspawn.isAlive()) {
        nspawn.destroyForcibly().waitFor();
      }
    }
  }

  /** A condition {@link #waitUntil} polls; it may run commands. */
  interface Condition {
    boolean holds() throws Exception;
  }

  /** Polls {@code condition} every 200 ms until it holds or {@code limit} has passed (then fails naming it). */
  static void waitUntil(Duration limit, String what, Condition condition) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + limit.toSeconds() + " s waiting for " + what);
      }
      Thread.sleep(200);
    }
  }
}
