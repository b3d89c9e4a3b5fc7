package io.istiovmagent.metrics;

import io.istiovmagent.retry.FailureClass;
import java.util.Map;

/**
 * What the metrics count that status.json does not show, kept by the daemon since it started: failed bundle fetches
 * and failed health reports by class ({@code reportFailures} null without report.url), and restarts of
 * istio.service the agent itself did.
 */
public record AgentCounters(Map<FailureClass, Long> fetchFailures, Map<FailureClass, Long> reportFailures,
    long sidecarRestartsByAgent) {
  public AgentCounters {
    fetchFailures = Map.copyOf(fetchFailures);
    reportFailures = reportFailures == null ? null : Map.copyOf(reportFailures);
  }

  public static final AgentCounters NONE = new AgentCounters(Map.of(), null, 0);
}
