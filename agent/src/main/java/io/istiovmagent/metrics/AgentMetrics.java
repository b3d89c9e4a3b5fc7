package io.istiovmagent.metrics;

import io.istiovmagent.metrics.Exposition.Sample;
import io.istiovmagent.metrics.Exposition.Type;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.status.AgentStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's figures in Prometheus' text format, for node-exporter's textfile collector: a pure function of the
 * status snapshot status.json is written from and the daemon's counters. Instants are timestamps
 * ({@code _timestamp_seconds}), not ages: the file is rewritten only when something changed, and a query's
 * {@code x - time()} is exact at any moment. No sample carries a token, credential or URL (docs/metrics.md).
 */
public final class AgentMetrics {
  public static final String PREFIX = "istio_vm_agent_";

  private AgentMetrics() {}

  public static String render(AgentStatus s, AgentCounters c) {
    Exposition e = new Exposition();
    e.family(PREFIX + "build_info", Type.GAUGE, "The agent's version; always 1.",
        List.of(Sample.of(1, "version", String.valueOf(s.version()))));
    e.instant(PREFIX + "start_time_seconds", "When the agent started, in seconds since the epoch.", s.startedAt());
    e.family(PREFIX + "phase", Type.GAUGE, "Where the agent is in its life: 1 for the current phase, else 0.",
        stateSet("phase", AgentStatus.Phase.values(), s.phase()));
    e.family(PREFIX + "health", Type.GAUGE, "The agent's verdict on this VM (as `istio-vm-agent status` shows it): "
        + "1 for the current one, else 0.", stateSet("health", AgentStatus.Health.values(), s.health()));
    bundle(e, s.bundle());
    e.family(PREFIX + "bundle_fetch_failures_total", Type.COUNTER,
        "Bundle fetches (or installs) that failed since the agent started, by failure class.",
        byClass(c.fetchFailures(), FailureClass.values()));
    report(e, s.report(), c);
    sidecar(e, s.sidecar(), c);
    hosts(e, s.hosts());
    return e.text();
  }

  private static void bundle(Exposition e, AgentStatus.Bundle b) {
    if (b == null) {
      return;
    }
    e.family(PREFIX + "bundle_info", Type.GAUGE, "The revision of the bundle in force; always 1.",
        List.of(Sample.of(1, "revision", String.valueOf(b.revision()))));
    e.family(PREFIX + "bundle_from_last_known_good", Type.GAUGE,
        "1 while the bundle in force is the last-known-good copy restored from disk, not one fetched since start.",
        List.of(Sample.of(b.fromLastKnownGood() ? 1 : 0)));
    e.instant(PREFIX + "bundle_fetched_timestamp_seconds",
        "When the bundle in force was fetched: its age is time() minus this.", b.fetchedAt());
    e.instant(PREFIX + "bundle_fetch_last_success_timestamp_seconds",
        "When the bundle source last answered a fetch (a new bundle or 304 Not Modified).", b.lastCheckedAt());
    e.instant(PREFIX + "token_expiry_timestamp_seconds",
        "When the installed istio-token expires: seconds left is this minus time().", b.tokenExpiresAt());
    e.instant(PREFIX + "root_cert_expiry_timestamp_seconds",
        "When the first of the installed root certificates expires.", b.rootCertExpiresAt());
  }

  private static void report(Exposition e, AgentStatus.Report r, AgentCounters c) {
    if (r == null) {
      return; // report.url is not set: nothing is reported, and nothing can fail
    }
    e.family(PREFIX + "reports_delivered_total", Type.COUNTER,
        "Health reports the control plane accepted since the agent started.", List.of(Sample.of(r.delivered())));
    e.instant(PREFIX + "report_last_success_timestamp_seconds",
        "When the control plane last accepted a health report.", r.lastDeliveredAt());
    if (c.reportFailures() != null) {
      e.family(PREFIX + "report_failures_total", Type.COUNTER,
          "Health reports not delivered since the agent started, by failure class.",
          byClass(c.reportFailures(), new FailureClass[] {FailureClass.TRANSIENT, FailureClass.CREDENTIAL_REJECTED,
              FailureClass.NOT_FOUND, FailureClass.MISCONFIGURED}));
    }
  }

  private static void sidecar(Exposition e, AgentStatus.Sidecar sc, AgentCounters c) {
    if (sc == null) {
      return;
    }
    e.family(PREFIX + "sidecar_state", Type.GAUGE, "istio.service as the agent sees it (systemd's "
        + "ActiveState/SubState, or unmanaged, no-systemd, not-installed, unknown); always 1.",
        List.of(Sample.of(1, "state", sc.state() == null ? "unknown" : sc.state().label())));
    e.family(PREFIX + "sidecar_ready", Type.GAUGE, "1 when Envoy's readiness endpoint answered ready, 0 when not; "
        + "absent while it was not asked (the sidecar not running).",
        sc.ready() == null ? List.of() : List.of(Sample.of(sc.ready() ? 1 : 0)));
    if (!sc.managed()) {
      return;
    }
    e.family(PREFIX + "sidecar_crash_looping", Type.GAUGE, "1 while istio.service is crash-looping.",
        List.of(Sample.of(sc.crashLoop() ? 1 : 0)));
    e.family(PREFIX + "sidecar_automatic_restarts_total", Type.COUNTER, "systemd's NRestarts for istio.service: "
        + "restarts by its Restart= setting; systemd starts it over at 0 when the unit is started by hand.",
        List.of(Sample.of(sc.restarts())));
    e.family(PREFIX + "sidecar_agent_restarts_total", Type.COUNTER,
        "Restarts of istio.service the agent did since it started (the bundle's configuration changed).",
        List.of(Sample.of(c.sidecarRestartsByAgent())));
  }

  private static void hosts(Exposition e, AgentStatus.Hosts h) {
    if (h == null) {
      return;
    }
    e.family(PREFIX + "hosts_entries", Type.GAUGE, "Entries in the agent's block of /etc/hosts.",
        List.of(Sample.of(h.entries())));
    e.family(PREFIX + "hosts_block_repairs_total", Type.COUNTER,
        "Times the agent put its /etc/hosts block back after something else rewrote the file, since it started.",
        List.of(Sample.of(h.repairs())));
    e.instant(PREFIX + "hosts_block_last_repair_timestamp_seconds",
        "When the agent last put its /etc/hosts block back.", h.lastRepairAt());
  }

  /** Every value of a closed set, 1 for the current one: an alert can match a value that is not current. */
  private static <E extends Enum<E>> List<Sample> stateSet(String label, E[] values, E current) {
    List<Sample> out = new ArrayList<>();
    for (E v : values) {
      out.add(Sample.of(v == current ? 1 : 0, label, v.name().toLowerCase(Locale.ROOT)));
    }
    return out;
  }

  /** One sample per class, from 0: rate() and increase() need the series before the first failure. */
  private static List<Sample> byClass(Map<FailureClass, Long> counts, FailureClass[] classes) {
    List<Sample> out = new ArrayList<>();
    for (FailureClass k : classes) {
      out.add(Sample.of(counts.getOrDefault(k, 0L), "class", k.name().toLowerCase(Locale.ROOT)));
    }
    return out;
  }
}
