package io.istiovmagent.server;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The VMs as a store every replica shares holds them (the cluster's WorkloadEntries), for GET /v1/vms in place of
 * the reports this replica took itself.
 */
public interface Fleet {
  /** Every VM, each one JSON object (docs/protocol.md, GET /v1/vms in the Kubernetes mode), in the fleet's order. */
  List<Map<String, Object>> vms();

  /**
   * How many VMs are in each of {@link VmStates#ALL}, for the metrics; by default from the {@code status} of each of
   * {@link #vms()}.
   */
  default Map<String, Long> countByState() {
    return VmStates.count(vms().stream().map(vm -> vm.get("status") instanceof String s ? s : null));
  }

  /** Why the list may be empty or incomplete now (the store cannot be read yet), if it may. Never a secret. */
  Optional<String> problem();
}
