package io.istiovmagent.cli;

import io.istiovmagent.daemon.AgentDaemon;
import io.istiovmagent.daemon.SidecarSupervisor;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.util.Log;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.random.RandomGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import sun.misc.Signal;

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
    Map<String, String> env = System.getenv();
    Log log = new Log(System.out, debug);
    AgentDaemon daemon = new AgentDaemon(new AgentDaemon.Options(main.rootFs(), main.configPath(), main.clock(),
        Notifier.fromEnvironment(env), WatchdogSettings.fromEnvironment(env, ProcessHandle.current().pid()),
        SidecarSupervisor.systemFactory(), host -> List.of(InetAddress.getAllByName(host)),
        RandomGenerator.getDefault(), log, Main.userAgent(), Main.version()));
    Signal.handle(new Signal("HUP"), s -> daemon.requestReload());
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
