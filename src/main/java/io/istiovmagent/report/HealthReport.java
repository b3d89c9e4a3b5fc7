package io.istiovmagent.report;

import java.time.Instant;
import java.util.List;

/** One report of protocol v1 (docs/protocol.md). Field names are the protocol's; no field holds a credential. */
public record HealthReport(
    int protocol,
    String status,
    List<String> reasons,
    Instant observedAt,
    long sequence,
    Agent agent,
    Host host,
    Workload workload,
    Bundle bundle,
    Sidecar sidecar,
    List<Transition> transitions) {

  public static final int PROTOCOL = 1;

  /** The agent itself. */
  public record Agent(String version, Instant startedAt, long heartbeatSeconds) {}

  /** The VM. */
  public record Host(String hostname, String machineId, List<String> addresses) {}

  /** Who this VM is in the mesh. */
  public record Workload(String namespace, String serviceAccount, String group, String clusterId, String network) {}

  /** The bundle in force. */
  public record Bundle(String revision, String source, Instant fetchedAt, Instant tokenExpiresAt,
      Instant rootCertExpiresAt) {}

  /** istio.service. */
  public record Sidecar(String state, Boolean ready, long restarts, long mainPid, boolean crashLoop,
      List<String> diagnosis) {}

  /** A state the agent took but could not deliver at the time. */
  public record Transition(Instant at, String status, List<String> reasons) {}
}
