package io.istiovmagent.server;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;

/** One VM in GET /v1/vms, exactly the fields docs/protocol.md shows; null where the VM did not say. */
@JsonPropertyOrder({"machineId", "hostname", "namespace", "group", "status", "reasons", "sidecar", "ready",
    "bundleRevision", "lastSeen", "stale", "sequence"})
record VmSummary(String machineId, String hostname, String namespace, String group, String status,
    List<String> reasons, String sidecar, Boolean ready, String bundleRevision, String lastSeen, boolean stale,
    long sequence) {}
