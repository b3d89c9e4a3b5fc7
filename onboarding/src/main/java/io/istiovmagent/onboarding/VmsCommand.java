package io.istiovmagent.onboarding;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.istiovmagent.onboarding.kube.KubernetesMode;
import io.istiovmagent.onboarding.mesh.VmRow;
import io.istiovmagent.server.Names;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code vms}: every VM as the cluster holds it, from any machine with a kubeconfig (also {@code kubectl vm}). */
@Command(name = "vms", mixinStandardHelpOptions = true,
    description = {"List the VMs: each one's WorkloadEntry of the service's, read from the Kubernetes API (so the "
        + "service need not be reachable): where it is, whether istiod routes to it (HEALTH, the Healthy "
        + "condition), its sidecar, when its token expires, when it was last seen, its last error. Times are "
        + "relative to now, as kubectl's ages. Sorted by namespace, group and machine id. Installed as kubectl-vm "
        + "on the PATH it is also `kubectl vm` (docs/kubernetes.md, \"The fleet view\").",
        "",
        "Every namespace by default (a fleet's VMs span namespaces), as with -A; -n NS lists one and leaves the "
            + "NAMESPACE column out. Needs list on workloadentries.networking.istio.io there."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:listed (also when there is no VM)", "64:usage error", "69:the Kubernetes API did not answer, "
        + "or has no WorkloadEntry kind", "77:the Kubernetes API refused (RBAC)", "78:the kubeconfig cannot be used"})
final class VmsCommand implements Callable<Integer> {
  @ParentCommand
  OnboardingMain main;

  @Spec
  CommandSpec spec;

  @Mixin
  ClusterOptions cluster;

  @Option(names = {"-n", "--namespace"}, paramLabel = "NS", description = "One namespace (default: all).")
  String namespace;

  @Option(names = {"-A", "--all-namespaces"}, description = "Every namespace (the default; for kubectl's habit).")
  boolean allNamespaces;

  @Option(names = {"-g", "--group"}, paramLabel = "GROUP", description = "One WorkloadGroup's VMs.")
  String group;

  @Option(names = {"-o", "--output"}, paramLabel = "wide|json",
      description = "wide: more columns (restarts, agent reason, root certificate expiry, bundle, entry name, whole "
          + "machine ids); json: an array of the VMs with every field (docs/protocol.md, GET /v1/vms).")
  String output;

  @Override
  public Integer call() {
    if (namespace != null && allNamespaces) {
      return ClusterOptions.usage(spec, "-n NS lists one namespace, -A all of them: give one or the other");
    }
    if (namespace != null && !Names.isDnsLabel(namespace) || group != null && !Names.isDnsLabel(group)) {
      return ClusterOptions.usage(spec, "the namespace and the group are Kubernetes names (lowercase letters, "
          + "digits, '-')");
    }
    if (output != null && !output.equals("wide") && !output.equals("json")) {
      return ClusterOptions.usage(spec, "-o takes wide or json, not '" + Names.printable(output, 20) + "'");
    }
    String where = namespace == null ? "in all namespaces" : "in " + namespace;
    return cluster.run(spec, "list workloadentries.networking.istio.io " + where
        + (namespace == null ? " (or give -n NS)" : ""), KubernetesMode::vms, vms -> {
          List<VmRow> rows;
          try {
            rows = vms.list(Optional.ofNullable(namespace));
          } catch (KubernetesClientException e) {
            if (e.getCode() != 404) {
              throw e;
            }
            spec.commandLine().getErr().println("the cluster has no WorkloadEntry kind (networking.istio.io/v1, "
                + "Istio 1.22 or later): is Istio installed, and is this the mesh's cluster?");
            return OnboardingMain.UNAVAILABLE;
          }
          if (group != null) {
            rows = rows.stream().filter(r -> group.equals(r.group())).toList();
          }
          print(rows, where);
          return OnboardingMain.OK;
        });
  }

  private void print(List<VmRow> rows, String where) {
    PrintWriter out = spec.commandLine().getOut();
    if ("json".equals(output)) {
      out.println(json(rows));
    } else if (rows.isEmpty()) {
      spec.commandLine().getErr().println("No VMs registered " + where + (group == null ? "" : " in group " + group)
          + ".");
    } else {
      VmTable.lines(rows, main.clock().instant(), "wide".equals(output), namespace == null).forEach(out::println);
    }
  }

  /** Pretty, and ASCII only: a bidi override (U+202E) in an entry reaches the terminal escaped, not as itself. */
  private static String json(List<VmRow> rows) {
    try {
      return JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).enable(JsonWriteFeature.ESCAPE_NON_ASCII)
          .build().writeValueAsString(rows.stream().map(VmRow::json).toList());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("rows are plain data and always serialise", e);
    }
  }
}
