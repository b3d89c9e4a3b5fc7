package io.istiovmagent.server;

import io.istiovmagent.protocol.HealthReport;
import java.time.Instant;
import java.util.Map;

/**
 * Where accepted health reports go beyond the endpoint's own registry: the cluster (the VM's WorkloadEntry and its
 * Healthy condition). Called on the request's thread after the report is accepted; it must return at once and do
 * its work elsewhere, so that a slow API server never slows a VM's report.
 */
public interface HealthSink {
  void accepted(Grant.Workload grant, HealthReport report, Instant receivedAt);

  /** What cannot be written now, {@code NAMESPACE/ENTRY} to why, for operators (GET /v1/vms). Never a secret. */
  default Map<String, String> problems() {
    return Map.of();
  }

  /**
   * The VM leaves (DELETE /v1/vms/{namespace}/{group}/{machineId}, sent when its package is removed): forget
   * everything kept for it (its WorkloadEntry {@code GROUP-MACHINEID} in {@code namespace}), and write nothing for it
   * again from the reports taken before this call. The endpoint has checked that the caller may (the VM's own
   * credential, or an admin token) and that the names are DNS labels and {@code machineId} 32 hexadecimal digits.
   *
   * <p>Unlike {@link #accepted}, the answer depends on it: called on the request's thread, it may wait for the
   * cluster, bounded by the client's own timeouts. Idempotent: a second call, or one for a VM never registered, is
   * {@link Deregistration.Absent}. A sink that keeps nothing per VM keeps this default.
   */
  default Deregistration deregister(String namespace, String group, String machineId) {
    return new Deregistration.Absent();
  }

  /** What became of a deregistration in the sink; the endpoint answers 204 to the first two, 503 to the last. */
  sealed interface Deregistration {
    /** Something was kept for the VM, and it is gone now. */
    record Removed() implements Deregistration {}

    /** Nothing was kept for the VM: never registered, or deregistered before. */
    record Absent() implements Deregistration {}

    /**
     * It cannot be done now, and the VM is still registered: the cluster does not answer, or refuses the service
     * (RBAC: no {@code delete} on workloadentries). {@code reason} says which and what to fix, in words for the
     * operator; it goes to the VM in the 503's error and to the log, so it never holds a secret.
     */
    record Unavailable(String reason) implements Deregistration {}
  }
}
