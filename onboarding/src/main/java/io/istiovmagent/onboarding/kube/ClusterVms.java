package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.VmRow;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The VMs as the cluster holds them, listed once: the service's WorkloadEntries and the state Leases of VMs in
 * groups istiod registers (by their managed-by label), one {@link VmRow} each, for the {@code vms} command on any
 * machine with a kubeconfig. Needs list on workloadentries (and on leases for the latter).
 */
public final class ClusterVms {
  private final KubernetesClient client;

  ClusterVms(KubernetesClient client) {
    this.client = client;
  }

  /** Every VM in {@code namespace}, or in all namespaces, in the fleet's order. */
  public List<VmRow> list(Optional<String> namespace) {
    List<GenericKubernetesResource> all = new ArrayList<>(list(EntryRegistry.ENTRIES, namespace));
    try {
      all.addAll(list(EntryRegistry.LEASES, namespace));
    } catch (KubernetesClientException e) {
      if (e.getCode() != 403) {
        throw e;
      } // no list on leases: the VMs of groups istiod registers are not shown, the others are
    }
    return rows(client.getKubernetesSerialization(), all);
  }

  private List<GenericKubernetesResource> list(ResourceDefinitionContext kind, Optional<String> namespace) {
    MixedOperation<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>>
        objects = client.genericKubernetesResources(kind);
    return (namespace.isPresent() ? objects.inNamespace(namespace.get()) : objects.inAnyNamespace())
        .withLabel(EntryPlan.MANAGED_BY, EntryPlan.MANAGER).list().getItems();
  }

  /** The rows of {@code entries}, each read as the plain map the API sent, in the fleet's order. */
  static List<VmRow> rows(KubernetesSerialization serialization, Collection<GenericKubernetesResource> entries) {
    return entries.stream().map(e -> VmRow.of(serialization.convertValue(e, Map.class))).sorted(VmRow.ORDER)
        .toList();
  }
}
