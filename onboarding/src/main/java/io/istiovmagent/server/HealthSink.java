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
}
