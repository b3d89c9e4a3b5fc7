package io.istiovmagent.onboarding;

import io.istiovmagent.util.BuildVersion;
import java.io.PrintWriter;
import java.time.Clock;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The istio-vm-onboarding command line: the cluster's side of onboarding. */
@Command(name = "istio-vm-onboarding", mixinStandardHelpOptions = true, versionProvider = OnboardingMain.Version.class,
    description = "The onboarding service: hands each virtual machine its workload group's bootstrap bundle "
        + "(what `istioctl x workload entry configure` makes) and takes the health its agent reports "
        + "(docs/protocol.md).",
    subcommands = {ServeCommand.class, GenerateCommand.class, TokenCommand.class, CredentialCommand.class,
        VmsCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:success", "1:no such token or credential", "64:usage error", "69:the Kubernetes API did not "
        + "answer", "70:internal error", "77:the Kubernetes API refused (RBAC)", "78:configuration error"})
public final class OnboardingMain implements Runnable {
  static final int OK = 0;
  static final int NOT_FOUND = 1;
  static final int USAGE = 64;
  static final int UNAVAILABLE = 69;
  static final int NO_PERMISSION = 77;
  static final int SOFTWARE = 70;
  static final int CONFIG = 78;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  private final Clock clock;

  OnboardingMain(Clock clock) {
    this.clock = clock;
  }

  public static void main(String[] args) {
    System.exit(run(Clock.systemUTC(), new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs one command line; the entry point for tests too. */
  public static int run(Clock clock, PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = new CommandLine(new OnboardingMain(clock));
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("internal error: " + e);
      return SOFTWARE;
    });
    cl.setParameterExceptionHandler((e, a) -> {
      CommandLine c = e.getCommandLine();
      c.getErr().println(e.getMessage());
      c.getErr().println("Run '" + c.getCommandSpec().qualifiedName() + " --help' for usage.");
      return USAGE;
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

  /** For --version. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"istio-vm-onboarding " + BuildVersion.get()};
    }
  }
}
