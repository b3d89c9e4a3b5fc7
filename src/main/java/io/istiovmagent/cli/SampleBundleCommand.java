package io.istiovmagent.cli;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.util.Durations;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "sample-bundle", mixinStandardHelpOptions = true,
    description = {"Write a sample bundle in the exact istioctl formats, for demos and tests.",
        "Its root CA and token signing key are generated and thrown away: no real mesh trusts it."})
final class SampleBundleCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

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

  @Override
  public Integer call() throws IOException {
    Duration lifetime;
    try {
      lifetime = Durations.parse(tokenLifetime);
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("--token-lifetime: " + e.getMessage());
      return ExitCodes.USAGE;
    }
    SampleBundle.Spec s = new SampleBundle.Spec(namespace, serviceAccount, group, "cluster.local", "192.0.2.10",
        lifetime, Duration.ofDays(3650));
    Map<BundleFile, byte[]> files = SampleBundle.generate(s, main.clock().instant());
    if (tar) {
      Files.write(out, TarGzWriter.write(files));
    } else {
      Files.createDirectories(out);
      for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
        Files.write(out.resolve(e.getKey().fileName()), e.getValue());
      }
    }
    spec.commandLine().getOut().println("wrote a sample bundle to " + out);
    return ExitCodes.OK;
  }
}
