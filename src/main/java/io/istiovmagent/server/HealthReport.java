package io.istiovmagent.server;

import java.util.List;

/**
 * One POST /v1/health body as docs/protocol.md defines it. Every field may be null (unknown); fields this version
 * does not know are ignored. Times stay text as sent: only {@code observedAt} is checked, the rest is passed on.
 */
record HealthReport(Integer protocol, String status, List<String> reasons, String observedAt, Long sequence,
    Agent agent, Host host, Workload workload, Bundle bundle, Sidecar sidecar, List<Transition> transitions) {

  record Agent(String version, String startedAt, Long heartbeatSeconds) {}

  record Host(String hostname, String machineId, List<String> addresses) {}

  record Workload(String namespace, String serviceAccount, String group, String clusterId, String network) {}

  record Bundle(String revision, String source, String fetchedAt, String tokenExpiresAt, String rootCertExpiresAt) {}

  record Sidecar(String state, Boolean ready, Long restarts, Long mainPid, Boolean crashLoop,
      List<String> diagnosis) {}

  record Transition(String at, String status, List<String> reasons) {}
}
