package io.istiovmagent.onboarding;

import io.istiovmagent.onboarding.kube.ClusterCredentials;
import io.istiovmagent.server.Names;
import io.istiovmagent.util.Durations;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code token create|list|revoke}: join tokens, as Secrets in the namespace they grant. */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = {"Join tokens: what a new VM presents once (cloud-init writes it to bundle.tokenFile) to enrol "
        + "and get a credential of its own. Each is a Secret in the namespace it grants (type "
        + "istio-vm-agent.io/join-token) holding a hash of the token, its group, its expiry and its uses; whoever may "
        + "create Secrets in a namespace may onboard VMs there, and nowhere else. VMs already enrolled keep working "
        + "when their join token expires or is revoked."},
    subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Revoke.class})
final class TokenCommand implements Runnable {
  @ParentCommand
  OnboardingMain main;

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: create, list or revoke");
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "Create a join token for a workload group and print it, once: it is kept nowhere.")
  static final class Create implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    ClusterOptions cluster;

    @Option(names = {"-n", "--namespace"}, required = true, paramLabel = "NS", description = "The group's namespace.")
    String namespace;

    @Option(names = {"-g", "--group"}, required = true, paramLabel = "GROUP", description = "The WorkloadGroup.")
    String group;

    @Option(names = "--ttl", defaultValue = "24h", paramLabel = "DURATION",
        description = "How long it may enrol VMs. Default: ${DEFAULT-VALUE}.")
    String ttl;

    @Option(names = "--uses", paramLabel = "N", description = "How many VMs it may enrol (default: any number). "
        + "Each use is then counted on the token, so VMs enrolling at once with it wait for one another: for a "
        + "fleet, no limit and a short --ttl, or a token per batch.")
    Integer uses;

    @Option(names = "--description", defaultValue = "", paramLabel = "TEXT", description = "Shown by token list.")
    String description;

    @Override
    public Integer call() {
      Duration lifetime;
      try {
        lifetime = Durations.parse(ttl);
      } catch (IllegalArgumentException e) {
        return ClusterOptions.usage(spec, e.getMessage());
      }
      if (!Names.isDnsLabel(namespace) || !Names.isDnsLabel(group)) {
        return ClusterOptions.usage(spec, "the namespace and the group are Kubernetes names (lowercase letters, "
            + "digits, '-')");
      }
      if (uses != null && uses < 1) {
        return ClusterOptions.usage(spec, "--uses must be at least 1");
      }
      return cluster.run(spec, parent.main.clock(), "create secrets in " + namespace, c -> {
        String token = c.createJoinToken(namespace, group, lifetime,
            uses == null ? OptionalInt.empty() : OptionalInt.of(uses), description);
        spec.commandLine().getOut().println(token);
        spec.commandLine().getErr().println("join token for " + namespace + "/" + group + ", valid " + ttl
            + (uses == null ? "" : ", " + uses + (uses == 1 ? " VM" : " VMs")) + "; it is not shown again. Give "
            + "it to the VM as bundle.tokenFile (cloud-init: write_files, mode 0600).");
        return OnboardingMain.OK;
      });
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "List join tokens: id, group, expiry, uses; never a token.")
  static final class ListTokens implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

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
            List<ClusterCredentials.JoinTokenInfo> tokens = c.listJoinTokens(Optional.ofNullable(namespace));
            PrintWriter out = spec.commandLine().getOut();
            Instant now = parent.main.clock().instant();
            String row = "%-20s %-8s %-24s %-22s %-8s %s%n";
            out.printf(row, "NAMESPACE", "ID", "GROUP", "EXPIRES", "USES", "DESCRIPTION");
            for (ClusterCredentials.JoinTokenInfo t : tokens) {
              out.printf(row, t.namespace(), t.id(), t.group(),
                  t.expires().isAfter(now) ? t.expires().toString() : "expired",
                  t.uses() + (t.limit().isPresent() ? "/" + t.limit().getAsInt() : ""), t.description());
            }
            return OnboardingMain.OK;
          });
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = "Revoke a join token: it enrols no more VMs; those it enrolled keep their credentials.")
  static final class Revoke implements Callable<Integer> {
    @ParentCommand
    TokenCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    ClusterOptions cluster;

    @Option(names = {"-n", "--namespace"}, required = true, paramLabel = "NS")
    String namespace;

    @Parameters(paramLabel = "ID", description = "The token's id: its first six characters, as token list shows.")
    String id;

    @Override
    public Integer call() {
      if (!id.matches("[a-z0-9]{6}")) {
        return ClusterOptions.usage(spec, "a token id is six lowercase letters or digits, the part before the dot");
      }
      return cluster.run(spec, parent.main.clock(), "delete secrets in " + namespace, c -> {
        if (!c.revokeJoinToken(namespace, id)) {
          spec.commandLine().getErr().println("no join token " + id + " in " + namespace + " (token list -n "
              + namespace + ")");
          return OnboardingMain.NOT_FOUND;
        }
        spec.commandLine().getOut().println("revoked join token " + id + " in " + namespace);
        return OnboardingMain.OK;
      });
    }
  }
}
