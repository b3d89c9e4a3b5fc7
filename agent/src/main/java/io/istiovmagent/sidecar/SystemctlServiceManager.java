package io.istiovmagent.sidecar;

import io.istiovmagent.fs.RootFs;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * Drives units by running the {@code systemctl} binary, each call bounded by a timeout after which systemctl (and
 * anything it started) is killed: a hung systemd must not hang the agent.
 */
public final class SystemctlServiceManager implements ServiceManager {
  public static final Path DEFAULT_BINARY = Path.of("/usr/bin/systemctl");
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** What {@link #state} asks for; systemctl prints them in its own order, and older versions omit some. */
  static final String PROPERTIES = "LoadState,ActiveState,SubState,MainPID,NRestarts,UnitFileState";
  /** sd_booted(3): systemd is PID 1 exactly when this directory exists. */
  static final String SYSTEMD_RUNTIME_DIR = "/run/systemd/system";
  /** Unit names as systemd accepts them; never starting with '-', which systemctl would read as an option. */
  private static final Pattern UNIT_NAME = Pattern.compile("[A-Za-z0-9_:.\\\\@][A-Za-z0-9_:.\\\\@-]{0,254}");
  private static final int MAX_STDERR_IN_MESSAGE = 400;
  private static final int MAX_OUTPUT_BYTES = 64 * 1024;
  private static final Duration REAP_WAIT = Duration.ofSeconds(2);

  private final RootFs root;
  private final Path systemctl;
  private final Duration timeout;

  public SystemctlServiceManager(RootFs root, Path systemctl, Duration timeout) {
    this.root = Objects.requireNonNull(root, "root == null");
    this.systemctl = Objects.requireNonNull(systemctl, "systemctl == null");
    this.timeout = Objects.requireNonNull(timeout, "timeout == null");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
  }

  /** {@link #detect(RootFs, Path, Duration)} with systemctl at its usual place and the default timeout. */
  public static ServiceManager detect(RootFs root) {
    return detect(root, DEFAULT_BINARY, DEFAULT_TIMEOUT);
  }

  /** A systemctl manager when this root was booted with systemd, otherwise {@link ServiceManager#unavailable}. */
  public static ServiceManager detect(RootFs root, Path systemctl, Duration timeout) {
    SystemctlServiceManager m = new SystemctlServiceManager(root, systemctl, timeout);
    return m.unavailableReason().<ServiceManager>map(ServiceManager::unavailable).orElse(m);
  }

  @Override
  public boolean available() {
    return unavailableReason().isEmpty();
  }

  /** Why there is no systemd to talk to, or empty when there is. */
  public Optional<String> unavailableReason() {
    boolean booted;
    try {
      booted = Files.isDirectory(root.resolve(SYSTEMD_RUNTIME_DIR));
    } catch (IOException e) {
      booted = false;
    }
    if (!booted) {
      return Optional.of(SYSTEMD_RUNTIME_DIR + " does not exist under " + root.root()
          + ", so this system was not booted with systemd (a container?)");
    }
    if (!Files.isRegularFile(systemctl) || !Files.isExecutable(systemctl)) {
      return Optional.of(systemctl + " is not an executable file; install systemd or configure the systemctl path");
    }
    return Optional.empty();
  }

  @Override
  public ServiceState state(String unit) throws ServiceManagerException {
    return parseShow(unit, run(unit, List.of("show", checkUnit(unit), "--property=" + PROPERTIES)));
  }

  @Override
  public void start(String unit) throws ServiceManagerException {
    // --no-block: istio.service is ordered After= the agent, so while the agent is still starting up a blocking
    // start would wait for the agent itself: a deadlock until the timeout.
    run(unit, List.of("start", "--no-block", checkUnit(unit)));
  }

  @Override
  public void restart(String unit) throws ServiceManagerException {
    run(unit, List.of("restart", "--no-block", checkUnit(unit)));
  }

  @Override
  public void enable(String unit) throws ServiceManagerException {
    run(unit, List.of("enable", checkUnit(unit)));
  }

  private static String checkUnit(String unit) {
    if (unit == null || !UNIT_NAME.matcher(unit).matches()) {
      throw new IllegalArgumentException("not a systemd unit name: " + unit);
    }
    return unit;
  }

  /** Runs systemctl with {@code args}; returns its stdout when it exits 0 within the timeout. */
  private String run(String unit, List<String> args) throws ServiceManagerException {
    String command = "systemctl " + String.join(" ", args);
    Optional<String> why = unavailableReason();
    if (why.isPresent()) {
      throw new ServiceManagerException(ServiceManagerException.Kind.UNAVAILABLE, command + " not run: " + why.get());
    }
    List<String> argv = new ArrayList<>();
    argv.add(systemctl.toString());
    argv.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    // Untranslated messages and property values, whatever the VM's locale.
    pb.environment().put("LC_ALL", "C");
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new ServiceManagerException(ServiceManagerException.Kind.FAILED, "cannot run " + command + ": "
          + e.getMessage(), e);
    }
    try {
      // systemctl's output is far smaller than a pipe buffer, so it never blocks writing while we wait here.
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        kill(p);
        throw new ServiceManagerException(ServiceManagerException.Kind.TIMED_OUT, command + " did not finish within "
            + timeout.toMillis() + " ms and was killed; systemd may be busy or hung: check `systemctl list-jobs`");
      }
      String out = readExited(p.getInputStream());
      String err = readExited(p.getErrorStream());
      if (p.exitValue() != 0) {
        throw new ServiceManagerException(ServiceManagerException.Kind.FAILED, command + " failed (exit "
            + p.exitValue() + ")" + (err.isBlank() ? "" : ": " + oneLine(err)) + "; see `systemctl status "
            + unit + "` and `journalctl -u " + unit + "`");
      }
      return out;
    } catch (InterruptedException e) {
      kill(p);
      Thread.currentThread().interrupt();
      throw new ServiceManagerException(ServiceManagerException.Kind.FAILED, command + " interrupted", e);
    }
  }

  /**
   * What an exited process wrote: only the bytes already in the pipe, so a child it left behind holding the pipe
   * open cannot make this block.
   */
  private static String readExited(InputStream in) {
    byte[] buf = new byte[MAX_OUTPUT_BYTES];
    int len = 0;
    try (in) {
      int n;
      while (len < buf.length && (n = in.available()) > 0) {
        int r = in.read(buf, len, Math.min(n, buf.length - len));
        if (r < 0) {
          break;
        }
        len += r;
      }
    } catch (IOException e) {
      // Best effort: whatever was read is all the caller gets.
    }
    return new String(buf, 0, len, StandardCharsets.UTF_8);
  }

  private static void kill(Process p) {
    // Descendants first: once systemctl is dead its children are re-parented and can no longer be found.
    List<ProcessHandle> descendants = p.descendants().toList();
    descendants.forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    // A SIGKILL takes effect when the kernel next schedules the process: wait for the whole tree (bounded), so that
    // nothing it started outlives the call on a loaded machine.
    long deadline = System.nanoTime() + REAP_WAIT.toNanos();
    try {
      p.waitFor(REAP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      for (ProcessHandle d : descendants) {
        d.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // Best effort: a child its parent's death left a zombie is dead all the same.
    }
  }

  /** stderr as one bounded line for an exception message. */
  static String oneLine(String s) {
    StringBuilder b = new StringBuilder();
    for (String line : s.strip().split("\\R")) {
      if (!line.isBlank()) {
        b.append(b.length() == 0 ? "" : " / ").append(line.strip());
      }
    }
    String flat = b.toString().replaceAll("\\p{Cntrl}", "?");
    return flat.length() <= MAX_STDERR_IN_MESSAGE ? flat : flat.substring(0, MAX_STDERR_IN_MESSAGE) + "…";
  }

  /** KEY=VALUE lines; unknown keys are ignored, and every property but LoadState may be missing. */
  static ServiceState parseShow(String unit, String output) throws ServiceManagerException {
    Map<String, String> p = new HashMap<>();
    for (String line : output.split("\\R")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        p.putIfAbsent(line.substring(0, eq), line.substring(eq + 1).strip());
      }
    }
    String load = p.get("LoadState");
    if (load == null || load.isEmpty()) {
      throw new ServiceManagerException(ServiceManagerException.Kind.FAILED, "systemctl show " + unit
          + " printed no LoadState, so whether the unit exists is unknown; run it by hand to see what it prints");
    }
    return new ServiceState(load, p.getOrDefault("ActiveState", ""), p.getOrDefault("SubState", ""),
        number(unit, p, "MainPID"), number(unit, p, "NRestarts"), p.getOrDefault("UnitFileState", ""));
  }

  private static long number(String unit, Map<String, String> p, String key) throws ServiceManagerException {
    String v = p.getOrDefault(key, "");
    if (v.isEmpty() || v.equals("[not set]")) {
      return 0;
    }
    try {
      long n = Long.parseLong(v);
      if (n >= 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ServiceManagerException(ServiceManagerException.Kind.FAILED, "systemctl show " + unit + " printed "
        + key + "=" + oneLine(v) + ", expected a non-negative number");
  }

  @Override
  public String toString() {
    return "systemctl at " + systemctl + " (timeout " + timeout.toMillis() + " ms)";
  }
}
