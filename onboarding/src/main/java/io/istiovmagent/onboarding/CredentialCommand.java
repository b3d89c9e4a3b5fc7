package io.istiovmagent.onboarding;

import io.istiovmagent.onboarding.kube.ClusterCredentials;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code credential list|revoke}: the VMs' own credentials, one Secret per enrolled machine. */
@Command(name = "credential", mixinStandardHelpOptions = true,
    description = {"VM credentials: what each VM got when it enrolled with a join token, bound to its machine id "
        + "and its workload group. Each is a Secret istio-vm-cred-MACHINE-ID (type istio-vm-agent.io/vm-credential) "
        + "holding a hash of it. Revoking one cuts the VM off within the service's cache period (--cache-ttl, 10 s); "
        + "it can enrol again only with a valid join token."},
    subcommands = {CredentialCommand.ListCredentials.class, CredentialCommand.Revoke.class})
final class CredentialCommand implements Runnable {
  @ParentCommand
  OnboardingMain main;

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: list or revoke");
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "List enrolled machines: namespace, machine id, group, host name, when, with which join token.")
  static final class ListCredentials implements Callable<Integer> {
    @ParentCommand
    CredentialCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    ClusterOptions cluster;

    @Option(names = {"-n", "--namespace"}, paramLabel = "NS", description = "One namespace (default: all).")
    String namespace;

    @Override
    public Integer call() {
      return cluster.run(spec, parent.main.clock(), "list secrets" + (namespace == null
          ? " in all namespaces (or give -n NS)" : " in " + namespace), c -> {
            List<ClusterCredentials.CredentialInfo> all = c.listCredentials(Optional.ofNullable(namespace));
            PrintWriter out = spec.commandLine().getOut();
            String row = "%-20s %-32s %-24s %-24s %-22s %s%n";
            out.printf(row, "NAMESPACE", "MACHINE-ID", "GROUP", "HOSTNAME", "ENROLLED", "JOIN-TOKEN");
            for (ClusterCredentials.CredentialInfo i : all) {
              out.printf(row, i.namespace(), i.machineId(), i.group(), i.hostname(), i.enrolledAt(), i.joinTokenId());
            }
            return OnboardingMain.OK;
          });
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Revoke a VM's credential; the VM is refused from the service's next cache refresh on.")
  static final class Revoke implements Callable<Integer> {
    @ParentCommand
    CredentialCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    ClusterOptions cluster;

    @Option(names = {"-n", "--namespace"}, required = true, paramLabel = "NS")
    String namespace;

    @Parameters(paramLabel = "MACHINE-ID", description = "The VM's /etc/machine-id, as credential list shows.")
    String machineId;

    @Override
    public Integer call() {
      if (!machineId.matches("[0-9a-f]{32}")) {
        return ClusterOptions.usage(spec, "a machine id is 32 lowercase hexadecimal digits (/etc/machine-id)");
      }
      return cluster.run(spec, parent.main.clock(), "delete secrets in " + namespace, c -> {
        if (!c.revokeCredential(namespace, machineId)) {
          spec.commandLine().getErr().println("machine " + machineId + " has no credential in " + namespace);
          return OnboardingMain.NOT_FOUND;
        }
        spec.commandLine().getOut().println("revoked the credential of machine " + machineId + " in " + namespace);
        return OnboardingMain.OK;
      });
    }
  }
}
