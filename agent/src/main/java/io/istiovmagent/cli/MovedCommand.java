package io.istiovmagent.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * The commands that left the agent when the onboarding service became a program of its own: hidden, and each says
 * where it went instead of picocli's "Unmatched argument", so a script or a habit finds its way.
 */
@Command(name = "serve", aliases = "sample-bundle", hidden = true)
final class MovedCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Unmatched
  List<String> ignored;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("'istio-vm-agent serve' is now 'istio-vm-onboarding serve' (same flags): "
        + "the onboarding service is a program of its own, not part of the VM's package. Sample bundles come from "
        + "the test fixtures: java -jar test-fixtures/target/istio-vm-test-fixtures.jar --help.");
    return ExitCodes.USAGE;
  }
}
