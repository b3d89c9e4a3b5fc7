package io.istiovmagent.daemon;

import io.istiovmagent.install.Installer;
import io.istiovmagent.metrics.AgentCounters;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.HealthAssessor;
import io.istiovmagent.verify.RootCertificate;
import io.istiovmagent.verify.VerifiedBundle;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * The daemon's status, gathered from its parts and assessed ({@link HealthAssessor}), and the one line systemd
 * shows for it. Reads the parts; changes nothing.
 */
final class StatusView {
  private final BundleKeeper bundle;
  private final SidecarLane sidecar;
  private final ReporterKeeper reporter;
  private final ConfigKeeper configs;
  private final StepGuard guard;
  private final Path configPath;
  private final String version;
  private final Instant startedAt;

  StatusView(BundleKeeper bundle, SidecarLane sidecar, ReporterKeeper reporter, ConfigKeeper configs,
      StepGuard guard, Path configPath, String version, Instant startedAt) {
    this.bundle = bundle;
    this.sidecar = sidecar;
    this.reporter = reporter;
    this.configs = configs;
    this.guard = guard;
    this.configPath = configPath;
    this.version = version;
    this.startedAt = startedAt;
  }

  static AgentStatus.Phase phase(boolean stopping, boolean configured, boolean installed) {
    if (stopping) {
      return AgentStatus.Phase.STOPPING;
    }
    if (!configured) {
      return AgentStatus.Phase.WAITING_FOR_CONFIGURATION;
    }
    return installed ? AgentStatus.Phase.RUNNING : AgentStatus.Phase.WAITING_FOR_BUNDLE;
  }

  AgentStatus snapshot(Instant now, AgentStatus.Phase phase) {
    AgentStatus.Sidecar sc = sidecar.status();
    // A bug first (it may be why nothing else moves), then the configuration, then the bundle.
    AgentStatus.LastError err = guard.current() != null ? guard.current()
        : configs.error() != null ? configs.error() : bundle.lastError(now);
    AgentStatus.Report rep = reporter.status();
    AgentStatus draft = new AgentStatus(AgentStatus.FORMAT, ProcessHandle.current().pid(), version, startedAt,
        now, phase, AgentStatus.Health.DEGRADED, List.of(), bundle.bundleStatus(), bundle.hostsStatus(), sc, err,
        bundle.nextFetchAt(), rep);
    HealthAssessor.Assessment a = HealthAssessor.assess(draft, now);
    return new AgentStatus(draft.format(), draft.pid(), draft.version(), startedAt, now, draft.phase(), a.health(),
        a.reasons(), draft.bundle(), draft.hosts(), sc, err, draft.nextRefreshAt(), rep);
  }

  /** What the metrics count beside the status ({@link AgentCounters}). */
  AgentCounters counters() {
    return new AgentCounters(bundle.fetchFailures(), reporter.failures(), sidecar.restartsDone());
  }

  /** What the status says of the bundle in force, {@code b}. */
  static AgentStatus.Bundle bundle(VerifiedBundle b, String source, Instant fetchedAt, boolean fromLastKnownGood,
      FetchSchedule schedule, String credential) {
    return new AgentStatus.Bundle(source, b.revision(), b.raw().configRevision(), fetchedAt, schedule.lastCheckedAt(), fromLastKnownGood,
        b.token().expiresAt(), b.rootCertificates().stream().map(RootCertificate::notAfter).min(Instant::compareTo)
            .orElse(null), b.namespace(), b.serviceAccount(), b.workloadGroup(),
        b.clusterEnv().nonEmpty("ISTIO_META_CLUSTER_ID"), b.clusterEnv().nonEmpty("ISTIO_META_NETWORK"),
        schedule.confirmedAt(), credential);
  }

  /** systemd's STATUS= line for {@code s}. */
  String line(AgentStatus s) {
    if (s.phase() == AgentStatus.Phase.WAITING_FOR_CONFIGURATION) {
      return configs.error() != null ? configs.error().message()
          : "waiting for configuration: set bundle.source in " + configPath;
    }
    if (!bundle.installed()) {
      return "no bundle yet: " + (s.lastError() != null ? s.lastError().message()
          : "fetching from " + bundle.describeSource());
    }
    String head = s.health() + ": bundle " + Installer.shortRevision(bundle.current().revision())
        + (bundle.fromLastKnownGood() ? " (last-known-good)" : "");
    return s.reasons().isEmpty() ? head : head + "; " + s.reasons().get(0);
  }
}
