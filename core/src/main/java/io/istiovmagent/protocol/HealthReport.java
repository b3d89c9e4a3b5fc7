package io.istiovmagent.protocol;

import java.time.Instant;
import java.util.List;

/**
 * One POST /v1/health body of protocol v1 (docs/protocol.md), as the agent writes it and the onboarding service
 * reads it. Field names are the protocol's; no field holds a credential. Every field may be null (unknown), so a
 * report from another agent version still reads; the reader decides what it requires. Times stay RFC 3339 text as
 * sent: the service checks only {@code observedAt} and passes the rest on unchanged.
 */
public record HealthReport(Integer protocol, String status, List<String> reasons, String observedAt, Long sequence,
    Agent agent, Host host, Workload workload, Bundle bundle, Sidecar sidecar, List<Transition> transitions) {

  public static final int PROTOCOL = 1;

  /** The agent itself. */
  public record Agent(String version, String startedAt, Long heartbeatSeconds) {}

  /** The VM. */
  public record Host(String hostname, String machineId, List<String> addresses) {}

  /** Who this VM is in the mesh. */
  public record Workload(String namespace, String serviceAccount, String group, String clusterId, String network) {}

  /** The bundle in force. */
  public record Bundle(String revision, String configRevision, String source, String fetchedAt,
      String tokenExpiresAt, String rootCertExpiresAt) {}

  /** istio.service. */
  public record Sidecar(String state, Boolean ready, Long restarts, Long mainPid, Boolean crashLoop,
      List<String> diagnosis) {}

  /** A state the agent took but could not deliver at the time. */
  public record Transition(String at, String status, List<String> reasons) {}

  /** A time as the protocol writes it: RFC 3339 in UTC, as {@link Instant#toString()} gives it; null stays null. */
  public static String time(Instant t) {
    return t == null ? null : t.toString();
  }
}
