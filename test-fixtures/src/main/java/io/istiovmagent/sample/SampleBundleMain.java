package io.istiovmagent.sample;

import io.istiovmagent.util.Durations;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "istio-vm-sample-bundle", mixinStandardHelpOptions = true,
    description = {"Write a sample bundle in the exact istioctl formats, for demos and tests.",
        "Its root CA and token signing key are generated and thrown away: no real mesh trusts it."})
public final class SampleBundleMain implements Callable<Integer> {
  private static final int OK = 0;
  private static final int USAGE = 64;

  @Spec
  CommandSpec spec;

  @Option(names = "--out", required = true, paramLabel = "PATH",
      description = "A directory to create (or, with --tar, the .tar.gz file to write).")
  Path out;

  @Option(names = "--tar", description = "Write a .tar.gz instead of a directory.")
  boolean tar;

  @Option(names = "--namespace", defaultValue = "vm-namespace", description = "Default: ${DEFAULT-VALUE}.")
  String namespace;

  @Option(names = "--service-account", defaultValue = "vm-sa", description = "Default: ${DEFAULT-VALUE}.")
  String serviceAccount;

  @Option(names = "--group", defaultValue = "hello-vm", description = "WorkloadGroup. Default: ${DEFAULT-VALUE}.")
  String group;

  @Option(names = "--token-lifetime", defaultValue = "1h", description = "Default: ${DEFAULT-VALUE}.")
  String tokenLifetime;

  /** {@code java -jar istio-vm-test-fixtures.jar --out DIR [--tar] ...}: ./dev/demo, the .deb's CDS training. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new SampleBundleMain()).execute(args));
  }

  @Override
  public Integer call() throws IOException {
    Duration lifetime;
    try {
      lifetime = Durations.parse(tokenLifetime);
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("--token-lifetime: " + e.getMessage());
      return USAGE;
    }
    SampleBundle.Spec s = new SampleBundle.Spec(namespace, serviceAccount, group, "cluster.local", "192.0.2.10",
        lifetime, Duration.ofDays(3650));
    SampleBundle.write(SampleBundle.generate(s, Instant.now()), out, tar);
    spec.commandLine().getOut().println("wrote a sample bundle to " + out);
    return OK;
  }
}
