package io.istiovmagent.cli;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.util.BuildVersion;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The istio-vm-agent command line. */
@Command(name = "istio-vm-agent", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Puts this virtual machine into an Istio service mesh: fetches the bootstrap bundle that "
        + "`istioctl x workload entry configure` makes, verifies it, and installs it where istio-sidecar expects it.",
    subcommands = {BundleCommand.class, ApplyCommand.class, RunCommand.class, StatusCommand.class,
        VersionCommand.class, PurgeCommand.class, DeregisterCommand.class, MovedCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:success",
        "64:usage error",
        "65:the bundle was refused by verification (nothing written)",
        "69:the bundle source cannot be reached or refused the request",
        "74:writing under the root failed",
        "78:configuration error (config file, CA file, token file, source URL)"})
public final class Main implements Runnable {
  @Option(names = "--root", scope = ScopeType.INHERIT, paramLabel = "DIR", defaultValue = "/",
      description = "Resolve every system path under DIR (default: ${DEFAULT-VALUE}).")
  Path root;

  @Option(names = "--config", scope = ScopeType.INHERIT, paramLabel = "FILE",
      description = "Configuration file (default: ROOT/etc/istio-vm-agent/config.yaml; missing = defaults).")
  Path config;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  private final Clock clock;

  public Main(Clock clock) {
    this.clock = clock;
  }

  /** When this class was initialised, just before main (System.nanoTime()): where the JVM's own start ends. */
  static final long ENTERED_NANOS = System.nanoTime();

  public static void main(String[] args) {
    // The daemon's command line is read without picocli (RunCommand.parseFast): systemd starts it on every boot.
    Optional<RunCommand.Invocation> daemon = RunCommand.parseFast(args);
    if (daemon.isPresent()) {
      System.exit(runDaemon(daemon.get(), Clock.systemUTC()));
    }
    System.exit(run(Clock.systemUTC(), new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  private static int runDaemon(RunCommand.Invocation i, Clock clock) {
    RootFs fs = new RootFs(i.root());
    try {
      return RunCommand.runDaemon(fs, configPath(fs, i.config().orElse(null)), clock, i.debug());
    } catch (RuntimeException e) {
      System.err.println("internal error: " + e); // as picocli's handler below says it
      return ExitCodes.SOFTWARE;
    }
  }

  /** Runs one command line; the entry point for tests too. */
  public static int run(Clock clock, PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = new CommandLine(new Main(clock));
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("internal error: " + e);
      return ExitCodes.SOFTWARE;
    });
    cl.setParameterExceptionHandler((e, a) -> {
      CommandLine c = e.getCommandLine();
      c.getErr().println(e.getMessage());
      c.getErr().println("Run '" + c.getCommandSpec().qualifiedName() + " --help' for usage.");
      return ExitCodes.USAGE;
    });
    return cl.execute(args);
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
  }

  Clock clock() {
    return clock;
  }

  RootFs rootFs() {
    return new RootFs(root);
  }

  Path configPath() {
    return configPath(rootFs(), config);
  }

  /** --config, else the configuration file under the root. */
  static Path configPath(RootFs fs, Path config) {
    return config != null ? config : fs.lexical("/etc/istio-vm-agent/config.yaml");
  }

  AgentConfig loadConfig() throws ConfigException {
    return ConfigLoader.load(configPath());
  }

  static String version() {
    return BuildVersion.get();
  }

  static String userAgent() {
    return "istio-vm-agent/" + version();
  }

  /** For --version. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"istio-vm-agent " + version()};
    }
  }
}
