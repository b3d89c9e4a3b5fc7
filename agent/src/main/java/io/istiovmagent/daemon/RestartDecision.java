package io.istiovmagent.daemon;

import io.istiovmagent.install.Destination;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/** Whether an install needs istio.service restarted, and which changed files call for it. */
record RestartDecision(List<Change> causes) {
  /**
   * Files pilot-agent and Envoy read only at start. The token is not among them: pilot-agent re-reads istio-token
   * when it needs it, so a refresh must not cost a restart (refreshes happen every few minutes). /etc/hosts is
   * consulted afresh on lookups, and the last-known-good is the agent's own.
   */
  private static final Set<String> READ_AT_START = EnumSet.of(Destination.ROOT_CERT, Destination.CLUSTER_ENV,
      Destination.MESH, Destination.SIDECAR_ENV).stream().map(Destination::path).collect(Collectors.toUnmodifiableSet());
  /** Content changes; REPAIRED is owner or mode only, which a running sidecar does not notice. */
  private static final Set<Action> CONTENT = EnumSet.of(Action.CREATED, Action.UPDATED, Action.REMOVED);

  public RestartDecision {
    causes = List.copyOf(Objects.requireNonNull(causes, "causes == null"));
  }

  public static RestartDecision of(InstallReport report) {
    Objects.requireNonNull(report, "report == null");
    return new RestartDecision(report.changes().stream()
        .filter(c -> CONTENT.contains(c.action()) && READ_AT_START.contains(c.path()))
        .toList());
  }

  public boolean restart() {
    return !causes.isEmpty();
  }

  /** One line for the log and the status: "restart istio.service: /etc/istio/config/mesh updated, ...". */
  public String summary() {
    if (causes.isEmpty()) {
      return "no restart of istio.service: nothing it reads at start changed";
    }
    return "restart istio.service: " + causes.stream().map(c -> c.path() + " " + c.action().label())
        .collect(Collectors.joining(", "));
  }
}
