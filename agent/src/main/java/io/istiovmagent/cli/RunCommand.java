package io.istiovmagent.cli;

import io.istiovmagent.daemon.AgentDaemon;
import io.istiovmagent.daemon.SidecarSupervisor;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.util.Log;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import sun.misc.Signal;
import sun.misc.SignalHandler;

@Command(name = "run", mixinStandardHelpOptions = true,
    description = {"Run the agent: restore the last-known-good bundle, fetch and apply the bundle, keep it fresh "
        + "before the token expires, keep the /etc/hosts block in place, supervise istio.service, and tell "
        + "systemd (READY=1, STATUS=, WATCHDOG=1) and status.json how things stand.",
        "",
        "SIGTERM stops the agent (never the sidecar); SIGHUP re-reads the configuration."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:stopped on request", "143:stopped by SIGTERM (a success for the unit)"})
final class RunCommand implements Callable<Integer> {
  /** How long SIGTERM waits for the loop's last pass before the JVM exits anyway. */
  static final Duration STOP_GRACE = Duration.ofSeconds(5);

  @ParentCommand
  Main main;

  @Option(names = "--debug", description = "Also log debug events.")
  boolean debug;

  @Override
  public Integer call() {
    return runDaemon(main.rootFs(), main.configPath(), main.clock(), debug);
  }

  /** What `run` was given: the global options and its own. */
  record Invocation(Path root, Optional<Path> config, boolean debug) {}

  /**
   * The command lines that start the daemon ({@code [--root DIR] [--config FILE] run [--debug]}, the options in any
   * order, before or after {@code run}, each at most once) read without picocli, which costs the daemon's start-up
   * tens of milliseconds of reflection. Anything else (help, a typo, an option twice, a value that looks like an
   * option) is empty: picocli reads it and says what is wrong. CliTest checks that both read every accepted line alike.
   */
  static Optional<Invocation> parseFast(String[] args) {
    Path root = null;
    Path config = null;
    boolean debug = false;
    boolean run = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("run") && !run) {
        run = true;
        continue;
      }
      if (a.equals("--debug") && run && !debug) {
        debug = true;
        continue;
      }
      String name = a.startsWith("--") && a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
      if (!name.equals("--root") && !name.equals("--config")) {
        return Optional.empty();
      }
      String value;
      if (a.contains("=")) {
        value = a.substring(a.indexOf('=') + 1);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        return Optional.empty();
      }
      if (value.isEmpty() || value.startsWith("-") || (name.equals("--root") ? root : config) != null) {
        return Optional.empty();
      }
      if (name.equals("--root")) {
        root = Path.of(value);
      } else {
        config = Path.of(value);
      }
    }
    return run ? Optional.of(new Invocation(root != null ? root : Path.of("/"), Optional.ofNullable(config), debug))
        : Optional.empty();
  }

  /** Runs the daemon until SIGTERM; SIGHUP reloads. The exit code. */
  static int runDaemon(RootFs fs, Path configPath, Clock clock, boolean debug) {
    Map<String, String> env = System.getenv();
    Log log = new Log(System.out, debug);
    AgentDaemon daemon = new AgentDaemon(new AgentDaemon.Options(fs, configPath, clock,
        Notifier.fromEnvironment(env), WatchdogSettings.fromEnvironment(env, ProcessHandle.current().pid()),
        SidecarSupervisor.systemFactory(), host -> List.of(InetAddress.getAllByName(host)),
        new SplittableRandom(), log, Main.userAgent(), Main.version(), Main.ENTERED_NANOS));
    if (Signal.handle(new Signal("HUP"), s -> daemon.requestReload()) == SignalHandler.SIG_IGN) {
      // The JVM takes no handler for a signal ignored when it started (nohup, `trap '' HUP`): say so, or a reload
      // that does nothing would be a mystery. systemd starts its services with every signal at its default.
      log.warn("SIGHUP is ignored in this process (it was started with SIGHUP ignored, as nohup does): kill -HUP "
          + "and systemctl reload do nothing; a change to the configuration file is still picked up by itself");
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      daemon.requestStop();
      try {
        daemon.awaitStopped(STOP_GRACE);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "sigterm"));
    return daemon.run();
  }
}
