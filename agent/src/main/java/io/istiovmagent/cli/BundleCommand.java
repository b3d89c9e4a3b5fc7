package io.istiovmagent.cli;

import io.istiovmagent.install.Installer;
import io.istiovmagent.util.Durations;
import io.istiovmagent.verify.EnvFile;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.RootCertificate;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "bundle", mixinStandardHelpOptions = true, description = "Inspect bootstrap bundles.",
    subcommands = BundleCommand.Verify.class)
final class BundleCommand implements Runnable {
  @ParentCommand
  Main main;

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a subcommand is required (verify)");
  }

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = {"Fetch a bundle and check every rule, without writing anything.",
          "",
          "SOURCE is a directory of istioctl output, a .tar.gz of it, a file: URL or an https:// URL.",
          "Plain http:// is refused. HTTPS trusts the system's CAs (/etc/ssl/certs/ca-certificates.crt) plus "
              + "--ca-file (or bundle.caFile); with bundle.trust: caFile, that file alone.",
          "",
          "The token's signature cannot be checked on the VM (the cluster's keys are not here; istiod checks "
              + "it). Checked: it is a signed JWT (alg not none), not expired, not before its nbf, audience "
              + "istio-ca, and subject system:serviceaccount:NS:SA matching cluster.env."},
      exitCodeListHeading = "%nExit codes:%n",
      exitCodeList = {"0:the bundle is valid", "65:the bundle is invalid (one line per problem on stderr)",
          "69:the source cannot be reached", "78:configuration error"})
  static final class Verify implements Callable<Integer> {
    @ParentCommand
    BundleCommand parent;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "SOURCE", description = "Where the bundle is.")
    String source;

    @Option(names = "--ca-file", paramLabel = "PEM", description = "Also trust the CA certificates in PEM.")
    Path caFile;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Main main = parent.main;
      try {
        BundlePipeline.Result r = BundlePipeline.fetchAndVerify(main, source, caFile, err);
        printSummary(out, r.bundle(), r.source(), main.clock().instant());
        return ExitCodes.OK;
      } catch (BundlePipeline.Failed f) {
        return f.exitCode;
      }
    }
  }

  static void printSummary(PrintWriter out, VerifiedBundle b, String source, Instant now) {
    EnvFile env = b.clusterEnv();
    out.println("bundle OK: " + source + " (revision " + Installer.shortRevision(b.revision()) + ")");
    row(out, "workload group", orNone(b.workloadGroup()));
    row(out, "namespace", b.namespace());
    row(out, "service account", b.serviceAccount());
    row(out, "trust domain", orNone(env.nonEmpty("TRUST_DOMAIN")));
    row(out, "cluster id", orNone(env.nonEmpty("ISTIO_META_CLUSTER_ID")));
    row(out, "mesh id", orNone(env.nonEmpty("ISTIO_META_MESH_ID")));
    row(out, "network", env.nonEmpty("ISTIO_META_NETWORK") == null ? "(default)" : env.get("ISTIO_META_NETWORK"));
    row(out, "token", "expires " + b.token().expiresAt() + " (in " + until(now, b.token().expiresAt()) + ")"
        + (b.token().lifetime() == null ? "" : ", lifetime " + Durations.human(b.token().lifetime())));
    for (RootCertificate c : b.rootCertificates()) {
      row(out, "root certificate", c.subject() + ", expires " + c.notAfter() + " (in " + until(now, c.notAfter()) + ")");
    }
    if (b.hosts().isEmpty()) {
      row(out, "istiod", "(hosts file empty: istiod is reached through DNS)");
    }
    for (HostsEntry h : b.hosts()) {
      row(out, "istiod", String.join(", ", h.names()) + " -> " + h.address());
    }
    row(out, "discovery address", orNone(b.mesh().discoveryAddress()));
    if (b.sidecarEnv().isPresent()) {
      row(out, "sidecar.env", b.sidecarEnv().get().values().size() + " variable(s)");
    }
  }

  private static void row(PrintWriter out, String label, String value) {
    out.printf("  %-18s %s%n", label, value);
  }

  private static String orNone(String s) {
    return s == null ? "(not set)" : s;
  }

  private static String until(Instant now, Instant then) {
    return Durations.human(Duration.between(now, then));
  }
}
