package io.istiovmagent.onboarding.mesh;

import io.istiovmagent.protocol.HealthReport;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the cluster knows of a VM's agent beyond the {@code Healthy} condition: the message of the service's own
 * condition {@value #TYPE} on the VM's WorkloadEntry, in {@link Logfmt} (docs/kubernetes.md lists the keys). Never a
 * secret: revisions, expiry times, the sidecar's state, the agent's last error. Pure.
 *
 * <p>{@link #sameAs} says whether a report changes anything worth a write of its own: what the mesh's traffic and
 * its operators act on (whether the agent is up, the sidecar's state, readiness, restarts and crash loop, the bundle
 * in force, the Healthy history). The details are left to the liveness write (every {@link EntryStatus#LIVENESS}):
 * the token's expiry, which every refresh moves; the agent's last error and whether it says HEALTHY or DEGRADED
 * (the condition stays True either way); the root certificate's expiry, the heartbeat and the agent's version. An
 * outage of the service makes every VM whose refresh fell in it DEGRADED with an error until its next fetch; as
 * transitions those would be two writes per VM within minutes of the service's return.
 */
record AgentState(String status, String sidecar, Boolean ready, Long restarts, boolean crashLoop,
    String bundle, Instant tokenExpires, Instant rootCertExpires, String error, Instant errorAt,
    Instant firstHealthy, Long heartbeatSeconds, String version, List<Change> history) {
  /** The condition type: a domain-qualified name, so it never collides with istiod's {@code Healthy}. */
  public static final String TYPE = "istio-vm-agent.io/Agent";
  /** How many of the Healthy condition's past reasons are kept (the page's "recent transitions"). */
  static final int HISTORY = 5;
  static final int MAX_ERROR = 300;

  /** The Healthy condition's reason taking effect at a time. */
  public record Change(Instant at, String reason) {}

  public AgentState {
    history = List.copyOf(history);
  }

  /** The state {@code report} shows, with what {@code previous} remembered (first healthy, last error, history). */
  public static AgentState of(HealthReport r, HealthVerdict verdict, Instant receivedAt,
      Optional<AgentState> previous) {
    HealthReport.Sidecar sc = r.sidecar();
    HealthReport.Bundle b = r.bundle();
    String error = currentError(r);
    Instant errorAt = error == null ? null : previous.filter(p -> error.equals(p.error())).map(AgentState::errorAt)
        .orElse(receivedAt);
    List<Change> history = new ArrayList<>(previous.map(AgentState::history).orElse(List.of()));
    if (history.isEmpty() || !history.get(history.size() - 1).reason().equals(verdict.reason())) {
      history.add(new Change(receivedAt.truncatedTo(ChronoUnit.SECONDS), verdict.reason()));
    }
    while (history.size() > HISTORY) {
      history.remove(0);
    }
    Instant firstHealthy = previous.map(AgentState::firstHealthy)
        .orElse(null);
    if (firstHealthy == null && verdict.healthy()) {
      firstHealthy = receivedAt.truncatedTo(ChronoUnit.SECONDS);
    }
    return new AgentState(r.status(), sc == null ? null : sc.state(), sc == null ? null : sc.ready(),
        sc == null ? null : sc.restarts(), sc != null && Boolean.TRUE.equals(sc.crashLoop()),
        b == null ? null : shortRevision(b.configRevision() != null ? b.configRevision() : b.revision()),
        b == null ? null : time(b.tokenExpiresAt()), b == null ? null : time(b.rootCertExpiresAt()),
        error != null ? error : previous.map(AgentState::error).orElse(null),
        error != null ? errorAt : previous.map(AgentState::errorAt).orElse(null), firstHealthy,
        r.agent() == null ? null : r.agent().heartbeatSeconds(), r.agent() == null ? null : r.agent().version(),
        history);
  }

  /** Whether {@code other} says the same but for the details the liveness write carries (see the class). */
  public boolean sameAs(AgentState other) {
    return other != null && conditionStatus().equals(other.conditionStatus()) && Objects.equals(sidecar, other.sidecar)
        && Objects.equals(ready, other.ready) && Objects.equals(restarts, other.restarts)
        && crashLoop == other.crashLoop && Objects.equals(bundle, other.bundle)
        && Objects.equals(firstHealthy, other.firstHealthy) && history.equals(other.history);
  }

  /** The condition's status: True while the agent says HEALTHY or DEGRADED. */
  String conditionStatus() {
    return "HEALTHY".equals(status) || "DEGRADED".equals(status) ? "True" : "False";
  }

  /** The condition's reason: the agent's status in CamelCase, or NeverHealthy for a VM not yet once healthy. */
  String conditionReason() {
    if (firstHealthy == null && !"True".equals(conditionStatus())) {
      return "NeverHealthy";
    }
    return status == null || status.isEmpty() ? "Unknown"
        : status.charAt(0) + status.substring(1).toLowerCase(java.util.Locale.ROOT);
  }

  public String message() {
    Map<String, String> f = new LinkedHashMap<>();
    f.put("status", status);
    f.put("sidecar", sidecar);
    f.put("ready", ready == null ? null : ready.toString());
    f.put("restarts", restarts == null ? null : restarts.toString());
    f.put("crash-loop", crashLoop ? "true" : null);
    f.put("bundle", bundle);
    f.put("token-expires", text(tokenExpires));
    f.put("root-cert-expires", text(rootCertExpires));
    f.put("first-healthy", firstHealthy == null ? "never" : firstHealthy.toString());
    f.put("heartbeat", heartbeatSeconds == null ? null : heartbeatSeconds.toString());
    f.put("agent", version);
    f.put("error", error);
    f.put("error-at", text(errorAt));
    f.put("history", history.isEmpty() ? null : String.join(",",
        history.stream().map(c -> c.at() + " " + c.reason()).toList()));
    return Logfmt.format(f);
  }

  /** The state a message of ours holds; empty for anything else (another writer's, or garbled). */
  public static Optional<AgentState> parse(String message) {
    if (message == null) {
      return Optional.empty();
    }
    return Logfmt.parse(message).filter(f -> f.containsKey("first-healthy")).map(f -> {
      List<Change> history = new ArrayList<>();
      for (String h : f.getOrDefault("history", "").split(",")) {
        int sp = h.indexOf(' ');
        Instant at = sp < 0 ? null : time(h.substring(0, sp));
        if (at != null) {
          history.add(new Change(at, h.substring(sp + 1)));
        }
      }
      return new AgentState(f.get("status"), f.get("sidecar"), bool(f.get("ready")), number(f.get("restarts")),
          "true".equals(f.get("crash-loop")), f.get("bundle"), time(f.get("token-expires")),
          time(f.get("root-cert-expires")), f.get("error"), time(f.get("error-at")), time(f.get("first-healthy")),
          number(f.get("heartbeat")), f.get("agent"), history);
    });
  }

  /** What went wrong, as the agent says it now: its reasons unless HEALTHY, else the sidecar's last diagnosis. */
  private static String currentError(HealthReport r) {
    String e = null;
    if (!"HEALTHY".equals(r.status()) && r.reasons() != null && !r.reasons().isEmpty()) {
      e = String.join("; ", r.reasons().stream().filter(Objects::nonNull).toList());
    } else if (r.sidecar() != null && r.sidecar().diagnosis() != null && !r.sidecar().diagnosis().isEmpty()
        && !"active/running".equals(r.sidecar().state())) {
      e = r.sidecar().diagnosis().get(r.sidecar().diagnosis().size() - 1);
    }
    if (e == null || e.isBlank()) {
      return null;
    }
    e = e.replaceAll("\\p{Cntrl}", " ").strip();
    return e.length() > MAX_ERROR ? e.substring(0, MAX_ERROR - 3) + "..." : e;
  }

  private static String shortRevision(String revision) {
    return revision == null ? null : revision.length() > 12 ? revision.substring(0, 12) : revision;
  }

  private static String text(Instant t) {
    return t == null ? null : t.toString();
  }

  private static Instant time(String s) {
    try {
      return s == null || s.isEmpty() ? null : Instant.parse(s);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static Boolean bool(String s) {
    return s == null ? null : Boolean.valueOf(s);
  }

  private static Long number(String s) {
    try {
      return s == null ? null : Long.valueOf(s);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
