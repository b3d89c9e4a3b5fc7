package io.istiovmagent.cli;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.install.Installer;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.util.Durations;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show what the running agent knows: bundle, hosts block, sidecar, last error, next refresh.",
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:running and healthy", "1:running, degraded or unhealthy (the reasons are listed)",
        "3:not running", "78:configuration error"})
final class StatusCommand implements Callable<Integer> {
  static final int DEGRADED = 1;
  static final int NOT_RUNNING = 3;

  @ParentCommand
  Main main;

  @Spec
  CommandSpec spec;

  @Option(names = "--json", description = "Print status.json as it is.")
  boolean json;

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
    StatusFile file = new StatusFile(main.rootFs().lexical(config.paths().runDir()));
    Optional<AgentStatus> status;
    try {
      status = file.read();
    } catch (IOException e) {
      err.println("cannot read " + file.file() + ": " + e.getMessage());
      return NOT_RUNNING;
    }
    if (status.isEmpty()) {
      out.println("istio-vm-agent is not running (no " + file.file() + "); start it with: systemctl start "
          + "istio-vm-agent");
      return NOT_RUNNING;
    }
    AgentStatus s = status.get();
    boolean alive = s.phase() != AgentStatus.Phase.STOPPING && ProcessHandle.of(s.pid()).map(ProcessHandle::isAlive)
        .orElse(false);
    if (json) {
      out.print(StatusFile.toJson(s));
      out.println();
    } else {
      print(out, s, alive, main.clock().instant());
      row(out, "TLS trust", trust(config));
    }
    if (!alive) {
      return NOT_RUNNING;
    }
    return s.health() == AgentStatus.Health.HEALTHY ? ExitCodes.OK : DEGRADED;
  }

  static void print(PrintWriter out, AgentStatus s, boolean alive, Instant now) {
    // Any field may be null in a status.json written by another version: printed as unknown, never thrown on.
    out.println("istio-vm-agent " + (alive ? (s.health() == null ? "UNKNOWN" : s.health()) : "NOT RUNNING") + (alive ? " (" + phase(s) + ", pid "
        + s.pid() + ")" : " (last status from pid " + s.pid() + ", " + ago(now, s.updatedAt()) + ")"));
    for (String r : s.reasons()) {
      out.println("  - " + r);
    }
    AgentStatus.Bundle b = s.bundle();
    if (b != null && b.revision() != null) {
      row(out, "bundle", Installer.shortRevision(b.revision()) + " from " + b.source()
          + (b.fromLastKnownGood() ? " (restored from last-known-good)" : ""));
      row(out, "fetched", b.fetchedAt() == null ? "not yet" : b.fetchedAt() + " (" + ago(now, b.fetchedAt()) + ")");
      if (b.confirmedAt() != null) {
        row(out, "confirmed", b.confirmedAt() + " (" + ago(now, b.confirmedAt()) + ", by a report answer)");
      }
      if (b.credential() != null) {
        row(out, "credential", b.credential());
      }
      row(out, "workload", b.namespace() + "/" + b.serviceAccount() + ", group " + b.workloadGroup());
      row(out, "token expires", b.tokenExpiresAt() + " (" + until(now, b.tokenExpiresAt()) + ")");
      row(out, "root cert expires", b.rootCertExpiresAt() + " (" + until(now, b.rootCertExpiresAt()) + ")");
    } else {
      row(out, "bundle", "none installed yet");
    }
    if (s.hosts() != null) {
      row(out, "hosts block", s.hosts().entries() + " entr" + (s.hosts().entries() == 1 ? "y" : "ies")
          + ", repaired " + s.hosts().repairs() + " time(s)"
          + (s.hosts().lastRepairAt() == null ? "" : ", last at " + s.hosts().lastRepairAt()));
    }
    AgentStatus.Sidecar sc = s.sidecar();
    if (sc != null) {
      row(out, "sidecar", !sc.managed() ? "not managed (sidecar.manage: false)"
          : (sc.state() == null ? "unknown" : sc.state().label())
          + (sc.mainPid() > 0 ? ", pid " + sc.mainPid() : "") + ", restarts " + sc.restarts()
          + (sc.ready() == null ? "" : sc.ready() ? ", ready" : ", not ready (" + sc.readiness() + ")")
          + (sc.crashLoop() ? ", CRASH LOOP" : ""));
      if (sc.diagnosis() != null && !sc.diagnosis().isEmpty()) {
        out.println("  last lines of /var/log/istio/istio.err.log:");
        sc.diagnosis().forEach(l -> out.println("    " + l));
      }
    }
    if (s.lastError() != null) {
      row(out, "last error", s.lastError().message() + " (" + ago(now, s.lastError().at()) + ")");
    }
    if (s.report() != null) {
      row(out, "reports", "to " + s.report().url() + ": " + s.report().delivered() + " delivered"
          + (s.report().lastDeliveredAt() == null ? "" : ", last " + ago(now, s.report().lastDeliveredAt()))
          + (s.report().lastError() == null ? "" : "; failing: " + s.report().lastError()));
    }
    if (s.nextRefreshAt() != null) {
      row(out, "next refresh", s.nextRefreshAt() + " (" + until(now, s.nextRefreshAt()) + ")");
    }
  }

  /** Whom HTTPS trusts under this configuration (the daemon logs what it read, and a failure to read it). */
  private String trust(AgentConfig config) {
    boolean store = Files.exists(main.rootFs().lexical(TlsTrust.SYSTEM_STORE));
    return TlsTrust.describe(config.bundle().trust(), store, config.bundle().caFile());
  }

  private static String phase(AgentStatus s) {
    return s.phase() == null ? "phase unknown" : s.phase().name().toLowerCase(Locale.ROOT).replace('_', ' ');
  }

  private static void row(PrintWriter out, String label, String value) {
    out.printf("  %-18s %s%n", label, value);
  }

  private static String ago(Instant now, Instant then) {
    return then == null ? "never" : Durations.human(Duration.between(then, now)) + " ago";
  }

  private static String until(Instant now, Instant then) {
    if (then == null) {
      return "unknown";
    }
    Duration d = Duration.between(now, then);
    return d.isNegative() ? Durations.human(d) + " ago" : "in " + Durations.human(d);
  }
}
