package io.istiovmagent.cli;

import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallPlan;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.InstallStep;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "apply", mixinStandardHelpOptions = true,
    description = {"One pass: fetch the bundle, verify it, install it under --root, print what changed.",
        "",
        "Files go where istio-sidecar expects them, owned by istio-proxy: /etc/certs/root-cert.pem (0644), "
            + "/var/run/secrets/tokens/istio-token (0640), /var/lib/istio/envoy/cluster.env (0644), "
            + "/etc/istio/config/mesh (0644), /var/lib/istio/envoy/sidecar.env (0644); the hosts file becomes a "
            + "managed block in /etc/hosts. Each write is atomic; unchanged files are not rewritten. A refused "
            + "bundle changes nothing.",
        "",
        "With --dry-run: fetch and verify the same way, look at the disk, and print what apply would do (each "
            + "write, chown, chmod, directory and /etc/hosts edit); write nothing.",
        "",
        "SOURCE defaults to bundle.source from the configuration."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:installed (or already in place)", "65:the bundle is invalid; nothing was written",
        "69:the source cannot be reached", "74:writing under the root failed (--dry-run: reading it failed, or apply would refuse a path)", "78:configuration error"})
final class ApplyCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Spec
  CommandSpec spec;

  @Parameters(paramLabel = "SOURCE", arity = "0..1", description = "Where the bundle is (default: bundle.source).")
  String source;

  @Option(names = "--ca-file", paramLabel = "PEM", description = "Also trust the CA certificates in PEM.")
  Path caFile;

  @Option(names = "--dry-run", description = "Print what apply would do; write nothing.")
  boolean dryRun;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    BundlePipeline.Result r;
    try {
      r = BundlePipeline.fetchAndVerify(main, source, caFile, err);
    } catch (BundlePipeline.Failed f) {
      return f.exitCode;
    }
    RootFs fs = main.rootFs();
    Installer installer = new Installer(fs, new LastKnownGood(fs.lexical(r.config().paths().stateDir())), main.clock());
    if (dryRun) {
      return dryRun(installer, r, fs, out, err);
    }
    InstallReport report;
    try {
      report = installer.install(r.bundle(), r.source());
    } catch (IOException e) {
      err.println("cannot install under " + fs.root() + ": " + e.getMessage());
      return ExitCodes.IO_ERROR;
    }
    print(out, err, report, r.source(), fs);
    return ExitCodes.OK;
  }

  private static int dryRun(Installer installer, BundlePipeline.Result r, RootFs fs, PrintWriter out,
      PrintWriter err) {
    InstallPlan plan;
    try {
      plan = installer.plan(r.bundle(), r.source(), r.bundle().hosts());
    } catch (IOException e) {
      err.println("cannot look at what is installed under " + fs.root() + ": " + e.getMessage());
      return ExitCodes.IO_ERROR;
    }
    String what = "bundle " + Installer.shortRevision(plan.revision()) + " from " + r.source() + under(fs);
    out.println(plan.isEmpty() ? "dry run: " + what + " is already in place; apply would change nothing"
        : "dry run: applying " + what + " would take " + plan.steps().size() + " step"
            + (plan.steps().size() == 1 ? "" : "s") + "; nothing was written");
    for (InstallStep s : plan.steps()) {
      out.printf("  %-10s %-44s %s%n", s.verb(), s.path(), s.detail());
    }
    for (String w : plan.warnings()) {
      err.println("warning: " + w);
    }
    if (!plan.refusals().isEmpty()) {
      for (InstallPlan.Refusal refusal : plan.refusals()) {
        err.println("apply would refuse " + refusal.path() + ": " + refusal.reason());
      }
      return ExitCodes.IO_ERROR;
    }
    return ExitCodes.OK;
  }

  private static String under(RootFs fs) {
    return fs.root().toString().equals("/") ? "" : " under " + fs.root();
  }

  static void print(PrintWriter out, PrintWriter err, InstallReport report, String source, RootFs fs) {
    String under = under(fs);
    if (report.changedAnything()) {
      out.println("applied bundle " + Installer.shortRevision(report.revision()) + " from " + source + under);
    } else {
      out.println("bundle " + Installer.shortRevision(report.revision()) + " from " + source
          + " is already in place" + under + "; nothing changed");
    }
    for (InstallReport.Change c : report.changes()) {
      out.printf("  %-10s %-44s %s%n", c.action().label(), c.path(), c.detail());
    }
    for (String w : report.warnings()) {
      err.println("warning: " + w);
    }
  }
}
