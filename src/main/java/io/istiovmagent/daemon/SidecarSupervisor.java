package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.RootFs;
import io.istiovmagent.sidecar.CrashLoopDetector;
import io.istiovmagent.sidecar.Readiness;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceManagerException;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.sidecar.SystemctlServiceManager;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Watches istio.service and acts on it: starts it once the first bundle is in place, restarts it when the bundle's
 * configuration (not its token) changed, notices a crash loop and captures its diagnosis. Never stops it.
 */
public final class SidecarSupervisor {
  /** Builds a supervisor for a configuration; the daemon makes a new one on reload. */
  public interface Factory {
    SidecarSupervisor create(AgentConfig.Sidecar config, RootFs fs, Log log);
  }

  /** Wakes the daemon's loop when the service manager reports a change of the unit (where it can). */
  void watch(Runnable wake) {
    services.watch(unit, wake);
  }

  /** Readiness answers in milliseconds on loopback; a slow probe must not hold up the loop's other work. */
  static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);

  private final String unit;
  private final ServiceManager services;
  private final ReadinessProbe probe;
  private final SidecarDiagnosis diagnosis;
  private final CrashLoopDetector crashLoop = new CrashLoopDetector();
  private final Log log;

  private boolean ensureStarted;
  private boolean restartPending;
  private String restartReason;
  private Set<String> secrets = Set.of();
  private String label = "unknown";
  private ServiceState state;
  private Readiness readiness;
  private boolean looping;
  private List<String> diagnosisLines = List.of();

  public SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      Log log) {
    this.unit = Objects.requireNonNull(unit, "unit == null");
    this.services = services;
    this.probe = probe;
    this.diagnosis = diagnosis;
    this.log = log;
  }

  /** The real machine: systemctl when systemd runs under the root, else a manager that says there is none. */
  public static Factory systemFactory() {
    return (config, fs, log) -> new SidecarSupervisor(config.unit(), SystemctlServiceManager.detect(fs),
        new ReadinessProbe(config.readinessUrl(), PROBE_TIMEOUT), new SidecarDiagnosis(fs), log);
  }

  /**
   * Called after every install. The first one starts the sidecar if it is not running; a later one restarts it when
   * cluster.env, mesh, sidecar.env or the root certificate changed. The token is remembered only to redact it.
   */
  void bundleInstalled(InstallReport report, boolean first, String token) {
    secrets = token == null ? Set.of() : Set.of(token);
    if (first) {
      ensureStarted = true;
      return;
    }
    RestartDecision d = RestartDecision.of(report);
    if (d.restart()) {
      restartPending = true;
      restartReason = d.summary();
    }
  }

  /** One look at the unit: state, actions due, crash loop, readiness. */
  void tick(Instant now) {
    if (!services.available()) {
      setLabel("no-systemd", "no systemd here: istio.service is not supervised");
      return;
    }
    try {
      state = services.state(unit);
      if (!state.installed()) {
        setLabel("not-installed", unit + " is not installed (install istio-sidecar); the bundle is in place for it");
        return;
      }
      if (ensureStarted) {
        ensureStarted = false;
        restartPending = false; // a sidecar that is only now being started reads the new files anyway
        if (!state.enabled()) {
          services.enable(unit);
          log.info("enabled " + unit);
        }
        if (!state.running()) {
          services.start(unit);
          log.info("started " + unit + " (the bundle is in place)");
        }
      } else if (restartPending) {
        restartPending = false;
        services.restart(unit);
        log.notice("restarting " + unit + ": " + restartReason);
      }
      CrashLoopDetector.Verdict v = crashLoop.observe(state, now);
      if (v.crashLooping() && !looping) {
        diagnosisLines = diagnose();
        log.error(unit + " is crash-looping (" + v.describe() + "); last lines of istio.err.log: "
            + String.join(" | ", diagnosisLines));
      } else if (!v.crashLooping() && looping) {
        log.notice(unit + " is no longer crash-looping");
        diagnosisLines = List.of();
      }
      looping = v.crashLooping();
      readiness = state.running() ? probe.probe() : null;
      setLabel(state.activeState() + "/" + state.subState(), null);
    } catch (ServiceManagerException e) {
      setLabel("unknown", "cannot ask systemd about " + unit + ": " + e.getMessage());
    }
  }

  private List<String> diagnose() {
    SidecarDiagnosis.Result r = diagnosis.lastLines(secrets);
    if (r instanceof SidecarDiagnosis.Result.Tail t) {
      return t.lines();
    }
    return List.of(r instanceof SidecarDiagnosis.Result.Missing m ? m.message()
        : ((SidecarDiagnosis.Result.Unreadable) r).message());
  }

  private void setLabel(String newLabel, String message) {
    if (!newLabel.equals(label)) {
      if (message != null) {
        log.warn(message);
      } else {
        log.info(unit + " is " + newLabel);
      }
      label = newLabel;
    }
  }

  AgentStatus.Sidecar status() {
    Boolean ready = readiness == null ? null : readiness.ready();
    String why = readiness instanceof Readiness.NotReady n ? n.reason() : null;
    return new AgentStatus.Sidecar(true, label, state == null ? 0 : state.mainPid(),
        state == null ? 0 : state.nRestarts(), ready, why, looping, diagnosisLines);
  }
}
