package io.istiovmagent.onboarding;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.istiovmagent.onboarding.kube.ClusterCredentials;
import io.istiovmagent.onboarding.kube.KubernetesMode;
import io.istiovmagent.server.ServerConfigException;
import io.istiovmagent.util.Log;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** How a command that reads or writes the cluster finds it, as kubectl does, and how its failures are told. */
final class ClusterOptions {
  @Option(names = "--kubeconfig", paramLabel = "FILE",
      description = "The kubeconfig (default: in a pod its service account, else $KUBECONFIG or ~/.kube/config).")
  Path kubeconfig;

  @Option(names = "--context", paramLabel = "NAME", description = "The kubeconfig context.")
  String context;

  /** What a command does with the cluster's join tokens and credentials; returns its exit code. */
  @FunctionalInterface
  interface Action {
    int run(ClusterCredentials cluster);
  }

  /** How a command gets to the part of the cluster it works on, from the kubeconfig and context given. */
  @FunctionalInterface
  interface Connect<T> {
    T connect(Optional<Path> kubeconfig, Optional<String> context) throws ServerConfigException;
  }

  /** What a command does with what {@link Connect} gave it; returns its exit code. */
  @FunctionalInterface
  interface Use<T> {
    int run(T cluster);
  }

  /**
   * Runs {@code action} against the cluster; a kubeconfig that cannot be used is exit 78, a refusal by the API
   * (RBAC) 77 naming {@code permission}, an API that does not answer 69.
   */
  int run(CommandSpec spec, Clock clock, String permission, Action action) {
    return run(spec, permission, (kubeconfig, context) -> KubernetesMode.credentials(kubeconfig, context, clock,
        new Log(System.err, false)), action::run);
  }

  /** Runs {@code use} on what {@code connect} gives, its failures told and numbered as {@link #run} says. */
  <T> int run(CommandSpec spec, String permission, Connect<T> connect, Use<T> use) {
    PrintWriter err = spec.commandLine().getErr();
    try {
      return use.run(connect.connect(Optional.ofNullable(kubeconfig), Optional.ofNullable(context)));
    } catch (ServerConfigException e) {
      err.println(e.getMessage());
      return OnboardingMain.CONFIG;
    } catch (KubernetesClientException e) {
      boolean refused = e.getCode() == 401 || e.getCode() == 403;
      err.println("cannot " + permission + ": " + (refused ? "the Kubernetes API refused it (HTTP " + e.getCode()
          + "); you need the permission to " + permission : "the Kubernetes API did not answer ("
          + KubernetesMode.cause(e) + ")"));
      return refused ? OnboardingMain.NO_PERMISSION : OnboardingMain.UNAVAILABLE;
    }
  }

  static int usage(CommandSpec spec, String message) {
    spec.commandLine().getErr().println(message);
    spec.commandLine().getErr().println("Run '" + spec.qualifiedName() + " --help' for usage.");
    return OnboardingMain.USAGE;
  }
}
