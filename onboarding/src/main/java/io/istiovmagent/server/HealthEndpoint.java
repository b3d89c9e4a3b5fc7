package io.istiovmagent.server;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.protocol.ReportAnswer;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;

/**
 * POST /v1/health (a VM's report, answered with hints) and GET /v1/vms (every VM, for operators: from the fleet when
 * there is one, else the reports this endpoint took).
 */
final class HealthEndpoint {
  private final BundleProvider bundles;
  private final VmRegistry registry;
  private final Optional<ReportLog> reportLog;
  private final Optional<HealthSink> sink;
  private final Optional<Fleet> fleet;
  private final Clock clock;
  private final Log log;

  HealthEndpoint(BundleProvider bundles, VmRegistry registry, Optional<ReportLog> reportLog,
      Optional<HealthSink> sink, Optional<Fleet> fleet, Clock clock, Log log) {
    this.sink = sink;
    this.fleet = fleet;
    this.bundles = bundles;
    this.registry = registry;
    this.reportLog = reportLog;
    this.clock = clock;
    this.log = log;
  }

  /** {@code joinToken} is the presented token, used only to make sure it is not stored with the report. */
  Response post(Grant grant, byte[] body, String joinToken) {
    if (!(grant instanceof Grant.Workload g)) {
      return Response.error(403, "this join token may not report health; a VM reports with its workload group's "
          + "token");
    }
    HealthReports.Result parsed = HealthReports.parse(body);
    if (parsed instanceof HealthReports.Result.Invalid invalid) {
      return Response.error(400, invalid.reason());
    }
    HealthReport report = ((HealthReports.Result.Valid) parsed).report();
    HealthReport.Workload w = report.workload();
    if (!g.covers(w.namespace(), w.group())) {
      return Response.error(403, "this join token is for " + g + ", not for the report's workload "
          + Names.printable(w.namespace(), 63) + "/" + Names.printable(w.group(), 63));
    }
    String machine = report.host() == null ? null : report.host().machineId();
    if (g instanceof Grant.Vm vm && !vm.machineId().equals(machine)) {
      return Response.error(403, "this credential is machine " + vm.machineId() + "'s; a VM reports about itself "
          + "only, not about machine " + Names.printable(String.valueOf(machine), 64));
    }
    Optional<HealthReport> clean = HealthReports.without(report, joinToken);
    if (clean.isEmpty()) {
      return Response.error(400, "the report carries the join token; a report never holds a credential");
    }
    if (clean.get() != report) {
      log.warn("a health report for " + g + " carried its join token; it was redacted before being kept");
      report = clean.get();
    }
    Instant received = clock.instant();
    registry.record(report, received).ifPresent(k -> log.warn("forgot VM " + k.namespace() + "/" + k.group() + "/"
        + Names.printable(k.id(), 64) + ", seen longest ago, to stay within the VM limit"));
    HealthReport stored = report;
    reportLog.ifPresent(l -> l.append(stored, received));
    sink.ifPresent(s -> s.accepted(g, stored, received));

    return Response.json(200, ReportAnswer.accepted(bundles.changed(g.namespace(), g.group(), Grant.machineOf(g),
        report.bundle())));
  }

  Response list(Grant grant) {
    if (!(grant instanceof Grant.Admin)) {
      return Response.error(403, "listing VMs needs an admin join token (admin: true in the endpoint's token file)");
    }
    Instant now = clock.instant();
    Map<String, Object> body = new java.util.LinkedHashMap<>();
    // With a fleet, every replica answers alike: the VMs as the cluster holds them, not the reports taken here.
    body.put("vms", fleet.isPresent() ? fleet.get().vms() : registry.summaries(now));
    body.put("bundleProblems", bundles.problems().entrySet().stream()
        .map(e -> Map.of("group", e.getKey(), "problem", e.getValue())).toList());
    if (sink.isPresent()) {
      body.put("entryProblems", sink.get().problems().entrySet().stream()
          .map(e -> Map.of("entry", e.getKey(), "problem", e.getValue())).toList());
    }
    if (fleet.isPresent()) {
      body.put("fleetProblem", fleet.get().problem().orElse(null));
      body.put("now", now.truncatedTo(ChronoUnit.SECONDS).toString()); // relative times, by the service's clock
    }
    return Response.json(200, body);
  }
}
