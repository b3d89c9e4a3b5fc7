package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.istiovmagent.onboarding.mesh.VmRow;
import io.istiovmagent.onboarding.mesh.EntryStatus;
import io.istiovmagent.server.Fleet;
import io.istiovmagent.server.VmStates;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * GET /v1/vms in the Kubernetes mode: the service's WorkloadEntries as its informer has them, so every replica lists
 * every VM, whichever replica its reports reach. Costs the API server nothing per request.
 */
final class EntryFleet implements Fleet {
  private final EntryCache cache;
  private final EntryCache leases;
  private final KubernetesSerialization serialization;

  /** Over the informers of the entries and of the state Leases (VMs of groups istiod registers). */
  EntryFleet(EntryCache cache, EntryCache leases, KubernetesSerialization serialization) {
    this.cache = cache;
    this.leases = leases;
    this.serialization = serialization;
  }

  @Override
  public List<Map<String, Object>> vms() {
    List<io.fabric8.kubernetes.api.model.GenericKubernetesResource> all = new java.util.ArrayList<>(cache.all());
    all.addAll(leases.all());
    return ClusterVms.rows(serialization, all).stream().map(VmRow::json).toList();
  }

  /** A VM the sweep found silent counts as STALE, as the directory mode counts one. */
  @Override
  public Map<String, Long> countByState() {
    List<io.fabric8.kubernetes.api.model.GenericKubernetesResource> all = new java.util.ArrayList<>(cache.all());
    all.addAll(leases.all());
    return VmStates.count(ClusterVms.rows(serialization, all).stream()
        .map(r -> EntryStatus.SILENT.equals(r.agentReason()) ? VmStates.STALE : r.status()));
  }

  @Override
  public Optional<String> problem() {
    if (cache.synced()) {
      return Optional.empty();
    }
    return Optional.of("the WorkloadEntries are not listed yet" + cache.problem().map(p -> ": " + p
        + " (the service needs list and watch on workloadentries in all namespaces)").orElse(""));
  }
}
