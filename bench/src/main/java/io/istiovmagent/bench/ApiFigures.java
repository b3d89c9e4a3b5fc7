package io.istiovmagent.bench;

import static io.istiovmagent.bench.FleetReport.f1;
import static io.istiovmagent.bench.FleetReport.f2;
import static io.istiovmagent.bench.FleetReport.ms;
import static io.istiovmagent.bench.FleetReport.sum;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * P7's figures from the API server's request log ({@link ApiLog}): requests by verb and resource in the steady
 * window, per minute; the WorkloadEntry writes against the formula of docs/kubernetes.md (transitions + VMs / 10 per
 * minute), the constant writes of the replicas (the leader Lease, the last-seen ConfigMaps); reads per report; the
 * join (enrolment, registration) over the ramp; the recovery's peaks. Written to P7.tsv beside the figures common to
 * P5 and P7.
 */
final class ApiFigures {
  /** What status writes are counted as ({@link EntryWrites.Kind}, lower case), and "unreadable". */
  private static final List<String> KINDS = List.of("enrolled", "transition", "silenced", "state", "liveness",
      "unexplained", "unreadable");

  private final ApiLog api;
  private final FleetService.Phases p;
  private final int agents;
  private final int replicas;
  private final double minutes;

  ApiFigures(ApiLog api, FleetService.Phases p, int agents, int replicas) {
    this.api = api;
    this.p = p;
    this.agents = agents;
    this.replicas = replicas;
    this.minutes = (p.steadyTo() - p.steadyFrom()) / 60.0;
  }

  /** Per minute over the steady window. */
  private String perMin(int[] perSecond) {
    return f1(sum(perSecond, p.steadyFrom(), p.steadyTo()) / minutes);
  }

  private double perMinValue(int[] perSecond) {
    return sum(perSecond, p.steadyFrom(), p.steadyTo()) / minutes;
  }

  private int[] plus(int[]... arrays) {
    int[] out = new int[arrays[0].length];
    for (int[] a : arrays) {
      for (int s = 0; s < out.length; s++) {
        out[s] += a[s];
      }
    }
    return out;
  }

  void put(FleetReport.Results r, FleetStats stats, EndpointLogs logs, List<String> census) throws IOException {
    int from = p.steadyFrom();
    int to = p.steadyTo();
    r.put("replicas", replicas);
    double apiSteady = FleetStats.mean(api.all(), from, to);
    r.put("api_steady_rps", f1(apiSteady));
    r.put("api_steady_per_min", perMin(api.all()));
    for (String verb : ApiRequest.VERBS) {
      r.put("api_steady_" + verb.toLowerCase(java.util.Locale.ROOT) + "_per_min", perMin(api.matching(verb, null)));
    }
    for (Map.Entry<String, int[]> e : api.byRequest().entrySet()) {
      if (sum(e.getValue(), from, to) > 0) {
        r.put("api_steady:" + e.getKey().replace(' ', ':') + "_per_min", perMin(e.getValue()));
      }
    }
    int[] reads = plus(api.matching("GET", null), api.matching("LIST", null));
    r.put("api_steady_reads_per_min", perMin(reads));
    r.put("api_steady_writes_per_min", perMin(api.writes()));
    double answered = sum(logs.answered(), from, to);
    r.put("api_reads_per_endpoint_request", f2(sum(reads, from, to) / Math.max(1, answered)));
    r.put("api_steady_409", sum(api.conflicts(), from, to));
    r.put("api_steady_5xx", sum(api.serverErrors(), from, to));

    // The WorkloadEntries' writes against the formula.
    int[] entryWrites = plus(api.succeeded("POST", "workloadentries"), api.succeeded("PUT", "workloadentries"),
        api.succeeded("PUT", "workloadentries/status"), api.succeeded("DELETE", "workloadentries"));
    double transitions = perMinValue(plus(api.kind("transition"), api.kind("silenced"), api.kind("state")));
    r.put("entry_writes_per_min", perMin(entryWrites));
    for (String k : KINDS) {
      r.put("status_" + k + "_per_min", perMin(api.kind(k)));
    }
    r.put("transitions_per_min", f1(transitions));
    r.put("formula_entry_writes_per_min", f1(transitions + agents / 10.0));
    int[] leaseWrites = plus(api.succeeded("POST", "leases"), api.succeeded("PUT", "leases"),
        api.succeeded("PATCH", "leases"));
    int[] seenWrites = plus(api.succeeded("POST", "configmaps"), api.succeeded("PUT", "configmaps"),
        api.succeeded("DELETE", "configmaps"));
    r.put("lease_writes_per_min", perMin(leaseWrites));
    r.put("lease_reads_per_min", perMin(api.matching("GET", "leases")));
    r.put("seen_writes_per_min", perMin(seenWrites));
    r.put("secret_writes_per_min", perMin(plus(api.succeeded("POST", "secrets"), api.succeeded("PUT", "secrets"))));
    r.put("token_mints_per_min", perMin(api.matching("POST", "serviceaccounts/token")));
    r.put("formula_all_writes_per_min", f1(transitions + agents / 10.0 + perMinValue(leaseWrites)
        + 6.0 * replicas));
    long[] mockTimes = api.micros(from, to);
    r.put("mock_p50_ms", ms(FleetStats.percentile(mockTimes, 50)));
    r.put("mock_p99_ms", ms(FleetStats.percentile(mockTimes, 99)));

    // The join: enrolments, registrations, token mints, conflicts, over the ramp and the settling time.
    r.put("ramp_enrol_calls", sum(stats.attemptsPerSecond(FleetStats.Kind.ENROL), 0, from));
    r.put("ramp_credentials_created", sum(api.succeeded("POST", "secrets"), 0, from));
    r.put("ramp_join_token_updates", sum(api.succeeded("PUT", "secrets"), 0, from));
    r.put("ramp_join_token_conflicts", sum(api.matching("PUT", "secrets"), 0, from)
        - sum(api.succeeded("PUT", "secrets"), 0, from));
    r.put("ramp_entries_created", sum(api.succeeded("POST", "workloadentries"), 0, from));
    r.put("ramp_token_mints", sum(api.matching("POST", "serviceaccounts/token"), 0, from));
    r.put("ramp_409", sum(api.conflicts(), 0, from));
    r.put("ramp_api_rps", f1(FleetStats.mean(api.all(), 0, from)));
    r.put("ramp_api_peak_rps", f1(FleetStats.peak(api.all(), 0, from, FleetBench.PEAK_WINDOW).rate()));
    r.put("ramp_writes_per_min", f1(sum(api.writes(), 0, from) / (from / 60.0)));

    // The outage and the recovery.
    r.put("outage_api_per_min", f1(sum(api.all(), p.stoppedAt(), p.restartedAt())
        / Math.max(1.0 / 60, (p.restartedAt() - p.stoppedAt()) / 60.0)));
    FleetStats.Peak apiPeak = FleetStats.peak(api.all(), p.restartedAt(), p.end(), FleetBench.PEAK_WINDOW);
    r.put("api_recovery_peak_rps", f1(apiPeak.rate()));
    r.put("api_recovery_peak_at_s", apiPeak.at() - p.restartedAt());
    r.put("api_recovery_peak_ratio", f2(apiPeak.rate() / apiSteady));
    double epSteady = FleetStats.mean(logs.answered(), from, to);
    FleetStats.Peak epPeak = FleetStats.peak(logs.answered(), p.restartedAt(), p.end(), FleetBench.PEAK_WINDOW);
    r.put("endpoint_recovery_peak_at_s", epPeak.at() - p.restartedAt());
    r.put("endpoint_recovery_peak_ratio", f2(epPeak.rate() / epSteady));
    r.put("recovery_api_requests", sum(api.all(), p.restartedAt(), p.end()));
    r.put("recovery_lists", sum(api.matching("LIST", null), p.restartedAt(), p.end()));
    r.put("recovery_writes", sum(api.writes(), p.restartedAt(), p.end()));
    for (String k : KINDS) {
      r.put("recovery_status_" + k, sum(api.kind(k), p.restartedAt(), p.end()));
      r.put("run_status_" + k, sum(api.kind(k), 0, p.end()));
    }
    r.put("recovery_409", sum(api.conflicts(), p.restartedAt(), p.end()));
    r.put("census", String.join("; ", census));
    // Whether the steady window was one: the fleet enrolled before it, and in traffic at the end.
    r.put("joined_by_steady", sum(api.succeeded("POST", "secrets"), 0, from));
    r.put("serving_at_end", census.stream().filter(l -> l.startsWith("entries True/Serving ")).map(l -> l
        .substring(l.lastIndexOf(' ') + 1)).findFirst().orElse("0"));
  }

  /** P7's own columns of the timeline. */
  static void timeline(ApiLog api, Timeline t) {
    int[] reads = api.matching("GET", null);
    int[] lists = api.matching("LIST", null);
    t.column("api_all", api.all()).column("api_get", reads).column("api_list", lists)
        .column("api_watch", api.matching("WATCH", null)).column("api_writes", api.writes())
        .column("api_409", api.conflicts()).column("api_get_secrets", api.matching("GET", "secrets"))
        .column("status_transition", api.kind("transition")).column("status_silenced", api.kind("silenced"))
        .column("status_state", api.kind("state"))
        .column("status_liveness", api.kind("liveness")).column("status_enrolled", api.kind("enrolled"))
        .column("lease_writes", api.succeeded("PATCH", "leases"))
        .column("configmap_writes", api.succeeded("PUT", "configmaps"));
  }
}
