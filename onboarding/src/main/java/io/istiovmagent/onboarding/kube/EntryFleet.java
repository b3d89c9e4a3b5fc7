package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.istiovmagent.onboarding.mesh.VmRow;
import io.istiovmagent.server.Fleet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * GET /v1/vms in the Kubernetes mode: the service's WorkloadEntries as its informer has them, so every replica lists
 * every VM, whichever replica its reports reach. Costs the API server nothing per request.
 */
final class EntryFleet implements Fleet {
  private final EntryCache cache;
  private final KubernetesSerialization serialization;

  EntryFleet(EntryCache cache, KubernetesSerialization serialization) {
    this.cache = cache;
    this.serialization = serialization;
  }

  @Override
  public List<Map<String, Object>> vms() {
    return ClusterVms.rows(serialization, cache.all()).stream().map(VmRow::json).toList();
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
