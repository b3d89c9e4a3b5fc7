package io.istiovmagent.cli;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.report.HostInfo;
import io.istiovmagent.source.Credentials;
import io.istiovmagent.source.Deregistration;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.util.Durations;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import javax.net.ssl.X509TrustManager;
import okhttp3.HttpUrl;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "deregister", mixinStandardHelpOptions = true,
    description = {"Tell the onboarding service that this VM leaves (the package runs it when it is removed): "
        + "DELETE /v1/vms/NAMESPACE/GROUP/MACHINE-ID to the service of bundle.source, with the VM's own credential "
        + "(paths.stateDir/credential) and the trust of bundle.trust and bundle.caFile. The service forgets the VM: "
        + "its WorkloadEntry is deleted, and it leaves the service's VM list. Prints one line of what happened.",
        "",
        "Nothing is deregistered (exit 0) when bundle.source is not an onboarding service's https:// URL, or when "
            + "the VM holds no credential of its own (it never enrolled). The credential is kept, on the VM and by "
            + "the service: the VM registers again when the agent runs again. Stop the agent first: a running "
            + "agent's next report registers the VM again."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:deregistered, nothing to deregister, or a service that does not support it (said so)",
        "69:the service cannot be reached, or failed (TLS, timeout, 5xx)",
        "77:the service refused the VM's credential (401, 403)",
        "78:configuration error (config file, CA file, source URL, /etc/machine-id, the stored credential)"})
final class DeregisterCommand implements Callable<Integer> {
  /** sysexits.h EX_NOPERM: the service refused the VM's credential. */
  static final int REFUSED = 77;

  @ParentCommand
  Main main;

  @Spec
  CommandSpec spec;

  @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10s", converter = DurationOption.class,
      description = "The most the request may take, connection and TLS included (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    AgentConfig config;
    try {
      config = main.loadConfig();
    } catch (ConfigException e) {
      err.println(e.getMessage());
      return ExitCodes.CONFIG;
    }
    Optional<String> source = config.bundle().source().map(String::strip);
    if (source.isEmpty() || !source.get().toLowerCase(Locale.ROOT).startsWith("https://")) {
      out.println("nothing to deregister: bundle.source is " + (source.isEmpty() ? "not set" : "not an https:// "
          + "URL") + ", so no onboarding service registered this VM");
      return ExitCodes.OK;
    }
    HttpUrl url = HttpUrl.parse(source.get());
    if (url == null || !url.username().isEmpty() || !url.password().isEmpty()) {
      err.println("bundle.source is not a valid https:// URL without a user name or password; fix it in "
          + main.configPath());
      return ExitCodes.CONFIG;
    }
    RootFs fs = main.rootFs();
    Credentials.Stored stored = Credentials.stored(fs.lexical(config.paths().stateDir()));
    if (stored instanceof Credentials.Stored.Unreadable u) {
      err.println("cannot read the VM's credential: " + u.reason());
      return ExitCodes.CONFIG;
    }
    if (!(stored instanceof Credentials.Stored.Held held)) {
      out.println("nothing to deregister: the VM holds no credential of its own (it never enrolled with "
          + url.host() + ", or the service does not enrol VMs)");
      return ExitCodes.OK;
    }
    Optional<String> machineId = HostInfo.machineId(fs);
    Optional<Deregistration.Target> target = Deregistration.target(url, machineId.orElse(null));
    if (target.isEmpty()) {
      err.println(machineId.isEmpty() || !machineId.get().matches("[0-9a-f]{32}")
          ? "cannot deregister: /etc/machine-id is missing or not 32 hexadecimal digits; it must be the one the VM "
              + "enrolled with"
          : "cannot deregister: bundle.source is not an onboarding service's .../v1/bundle/NAMESPACE/GROUP URL");
      return ExitCodes.CONFIG;
    }
    warnIfRunning(config, err);
    X509TrustManager trust;
    try {
      // Quiet about a missing store, as apply is: it runs from the package's postrm, where a note is noise.
      trust = TlsTrust.load(TlsTrust.Spec.of(config.bundle(), fs)).manager();
    } catch (SourceConfigException e) {
      err.println(e.getMessage());
      return ExitCodes.CONFIG;
    }
    Deregistration.Target t = target.get();
    return report(Deregistration.send(t, trust, held.credential(), timeout, Main.userAgent(), main.clock()), t, out,
        err);
  }

  private static int report(Deregistration.Outcome outcome, Deregistration.Target t, PrintWriter out,
      PrintWriter err) {
    String vm = "machine " + t.machineId() + " of " + t.namespace() + "/" + t.group();
    if (outcome instanceof Deregistration.Outcome.Deregistered) {
      out.println("deregistered " + vm + " with " + t.where());
      return ExitCodes.OK;
    }
    if (outcome instanceof Deregistration.Outcome.Unsupported u) {
      out.println(t.where() + " answered HTTP " + u.status() + ": the service does not support deregistration; "
          + vm + " stays registered until " + byHand(t));
      return ExitCodes.OK;
    }
    if (outcome instanceof Deregistration.Outcome.Refused r) {
      err.println(t.where() + " refused the VM's credential (HTTP " + r.status() + ")" + r.reason() + "; " + vm
          + " stays registered until " + byHand(t));
      return REFUSED;
    }
    err.println("cannot deregister " + vm + ": " + ((Deregistration.Outcome.Failed) outcome).reason() + "; it stays "
        + "registered until " + byHand(t));
    return ExitCodes.UNAVAILABLE;
  }

  /** What an operator does instead, with the names filled in. */
  private static String byHand(Deregistration.Target t) {
    return "an operator removes it: kubectl -n " + t.namespace() + " delete workloadentry " + t.group() + "-"
        + t.machineId() + " (or DELETE " + t.url().encodedPath() + " with an admin token)";
  }

  /** A running agent would register the VM again with its next report; the package stops it first. */
  private void warnIfRunning(AgentConfig config, PrintWriter err) {
    PurgeCommand.runningAgent(main.rootFs().lexical(config.paths().runDir())).ifPresent(pid -> err.println(
        "warning: istio-vm-agent is running (pid " + pid + "); its next report registers the VM again: stop it "
            + "first (systemctl stop istio-vm-agent)"));
  }

  /** "10s", "500ms", "1m": as the configuration writes durations. */
  static final class DurationOption implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      Duration d;
      try {
        d = Durations.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
      if (d.isZero()) {
        throw new CommandLine.TypeConversionException("the timeout must be more than 0");
      }
      return d;
    }
  }
}
