package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.daemon.SidecarPollPolicy.Watch;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.sidecar.CrashLoopDetector;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.PidfdExitWatcher;
import io.istiovmagent.sidecar.Readiness;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceManagerException;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.sidecar.SystemctlServiceManager;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import io.istiovmagent.util.Log;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches istio.service and acts on it: starts it once the first bundle is in place, restarts it when the bundle's
 * configuration (not its token) changed, notices a crash loop and captures its diagnosis. Never stops it.
 *
 * <p>It does not ask systemd every second: the sidecar's main process is watched for its exit ({@link ExitWatcher}),
 * which wakes the daemon's loop at once; when to ask systemd and when to probe Envoy is {@link SidecarPollPolicy}'s.
 */
public final class SidecarSupervisor implements AutoCloseable {
  /** Builds a supervisor for a configuration; the daemon makes a new one on reload (and closes the old one). */
  public interface Factory {
    SidecarSupervisor create(AgentConfig.Sidecar config, RootFs fs, Log log);
  }

  /**
   * Wakes the daemon's loop when the unit changes: when the watched main process exits, and when the service
   * manager reports a change (where it can).
   */
  void watch(Runnable wake) {
    this.wake = wake;
    services.watch(unit, () -> {
      changeSignalled = true;
      wake.run();
    });
  }

  /** Readiness answers in milliseconds on loopback; a slow probe must not hold up the loop's other work. */
  static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);

  private final String unit;
  private final ServiceManager services;
  private final ReadinessProbe probe;
  private final SidecarDiagnosis diagnosis;
  private final CrashLoopDetector crashLoop = new CrashLoopDetector();
  private final ExitWatcher exits;
  private final Log log;
  private volatile Runnable wake = () -> {};
  /**
   * Set by the exit watcher's thread: the PID that exited; 0 when none is pending. Taken with getAndSet: a read
   * then a separate write of 0 would lose an exit that lands between them, hiding the sidecar's death until the
   * safety look (60 s).
   */
  private final AtomicLong exitedPid = new AtomicLong();
  /** Set by the service manager's change hook. */
  private volatile boolean changeSignalled;

  private boolean ensureStarted;
  private boolean restartPending;
  private String restartReason;
  private Set<String> secrets = Set.of();
  private SidecarState label = SidecarState.Agent.UNKNOWN;
  private ServiceState state;
  private Readiness readiness;
  private boolean looping;
  private List<String> diagnosisLines = List.of();
  // When to look and probe (SidecarPollPolicy's inputs); loop thread only.
  private Instant lastLook;
  private boolean lastLookFailed;
  private boolean lookRequested;
  private Watch watchState = Watch.NONE;
  private long watchedPid;
  private long exitSeenPid;
  private Instant exitSeenAt;
  private boolean unwatchableLogged;
  private Instant lastProbe;
  private long probedPid;

  /** A supervisor that looks at the unit every second: no exit watcher. */
  public SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      Log log) {
    this(unit, services, probe, diagnosis, ExitWatcher.none(), log);
  }

  public SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      ExitWatcher exits, Log log) {
    this.unit = Objects.requireNonNull(unit, "unit == null");
    this.services = services;
    this.probe = probe;
    this.diagnosis = diagnosis;
    this.exits = Objects.requireNonNull(exits, "exits == null");
    this.log = log;
  }

  /**
   * The real machine: systemctl when systemd runs under the root, else a manager that says there is none; the
   * sidecar's main process watched through a pidfd.
   */
  public static Factory systemFactory() {
    return (config, fs, log) -> new SidecarSupervisor(config.unit(), SystemctlServiceManager.detect(fs),
        new ReadinessProbe(config.readinessUrl(), PROBE_TIMEOUT), new SidecarDiagnosis(fs),
        new PidfdExitWatcher("sidecar-exit-watch"), log);
  }

  /**
   * Called after every install. The first one starts the sidecar if it is not running; a later one restarts it when
   * cluster.env, mesh, sidecar.env or the root certificate changed. The token is remembered only to redact it.
   */
  void bundleInstalled(InstallReport report, boolean first, String token) {
    secrets = token == null ? Set.of() : Set.of(token);
    if (first) {
      ensureStarted = true;
      lookRequested = true;
      return;
    }
    RestartDecision d = RestartDecision.of(report);
    if (d.restart()) {
      restartPending = true;
      restartReason = d.summary();
      lookRequested = true;
    }
  }

  /** When {@link #tick} has something to do next ({@link Instant#MIN}: at once); the loop waits no longer. */
  Instant nextDue() {
    if (!services.available()) {
      return Instant.MAX;
    }
    Instant look = nextLook();
    if (state == null || !state.running()) {
      return look;
    }
    Instant probeAt = SidecarPollPolicy.nextProbe(lastProbe, readiness);
    return probeAt.isBefore(look) ? probeAt : look;
  }

  private Instant nextLook() {
    Watch w = exitedPid.get() != 0 ? Watch.EXITED : watchState;
    return SidecarPollPolicy.nextLook(lastLook, lastLookFailed ? null : state, w, exitSeenAt,
        lookRequested || changeSignalled);
  }

  /**
   * Looks at the unit when the policy says so (state, actions due, crash loop), and probes readiness when due.
   *
   * @return whether it looked or probed (what {@link #status()} says may have changed)
   */
  boolean tick(Instant now) {
    if (!services.available()) {
      return setLabel(SidecarState.Agent.NO_SYSTEMD, "no systemd here: istio.service is not supervised");
    }
    boolean did = false;
    if (!nextLook().isAfter(now)) {
      look(now);
      did = true;
    }
    if (state != null && state.installed() && state.running() && !lastLookFailed
        && !SidecarPollPolicy.nextProbe(lastProbe, readiness).isAfter(now)) {
      readiness = probe.probe();
      lastProbe = now;
      probedPid = state.mainPid();
      did = true;
    }
    return did;
  }

  private void look(Instant now) {
    long exited = exitedPid.getAndSet(0);
    changeSignalled = false;
    lookRequested = false;
    lastLook = now;
    if (exited != 0 && exited == watchedPid) {
      exitSeenPid = exited;
      exitSeenAt = now;
      watchedPid = 0;
      watchState = Watch.GONE;
    }
    try {
      state = services.state(unit);
      lastLookFailed = false;
      if (!state.installed()) {
        setLabel(SidecarState.Agent.NOT_INSTALLED, unit + " is not installed (install istio-sidecar); the bundle is in place for it");
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
      follow(state, now);
      setLabel(new SidecarState.Unit(state.activeState(), state.subState()), null);
    } catch (ServiceManagerException e) {
      lastLookFailed = true;
      setLabel(SidecarState.Agent.UNKNOWN, "cannot ask systemd about " + unit + ": " + e.getMessage());
    }
  }

  /** Watches the main process systemd named; Envoy's readiness is forgotten when that process changed. */
  private void follow(ServiceState s, Instant now) {
    if (!s.running()) {
      readiness = null;
      lastProbe = null;
      probedPid = 0;
      watchState = Watch.NONE;
      return;
    }
    long pid = s.mainPid();
    if (pid != probedPid) {
      readiness = null; // another process: its Envoy has not been asked yet
      lastProbe = null;
    }
    if (watchState == Watch.GONE && pid == exitSeenPid) {
      return; // systemd has not handled that exit yet: the policy asks again shortly
    }
    if (watchState == Watch.WATCHING && pid == watchedPid) {
      return;
    }
    switch (exits.watch(pid, this::exited)) {
      case WATCHING -> {
        watchedPid = pid;
        watchState = Watch.WATCHING;
      }
      case GONE -> {
        watchedPid = 0;
        exitSeenPid = pid;
        exitSeenAt = now;
        watchState = Watch.GONE;
      }
      case UNSUPPORTED -> {
        watchedPid = 0;
        watchState = Watch.NONE;
        if (!unwatchableLogged) {
          unwatchableLogged = true;
          log.info("cannot watch " + unit + "'s main process for its exit ("
              + exits.unsupportedReason().orElse("unsupported") + "); asking systemd about it every second");
        }
      }
    }
  }

  /** On the exit watcher's thread. */
  private void exited(long pid) {
    exitedPid.set(pid);
    wake.run();
  }

  /** Stops watching the sidecar's process (the daemon replaces this supervisor on reload, or stops). */
  @Override
  public void close() {
    exits.close();
  }

  private List<String> diagnose() {
    SidecarDiagnosis.Result r = diagnosis.lastLines(secrets);
    if (r instanceof SidecarDiagnosis.Result.Tail t) {
      return t.lines();
    }
    return List.of(r instanceof SidecarDiagnosis.Result.Missing m ? m.message()
        : ((SidecarDiagnosis.Result.Unreadable) r).message());
  }

  /** Returns whether the label changed. */
  private boolean setLabel(SidecarState newLabel, String message) {
    if (!newLabel.equals(label)) {
      if (message != null) {
        log.warn(message);
      } else {
        log.info(unit + " is " + newLabel.label());
      }
      label = newLabel;
      return true;
    }
    return false;
  }

  AgentStatus.Sidecar status() {
    Boolean ready = readiness == null ? null : readiness.ready();
    String why = readiness instanceof Readiness.NotReady n ? n.reason() : null;
    return new AgentStatus.Sidecar(true, label, state == null ? 0 : state.mainPid(),
        state == null ? 0 : state.nRestarts(), ready, why, looping, diagnosisLines);
  }
}
