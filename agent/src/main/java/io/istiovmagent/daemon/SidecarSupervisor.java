package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.sidecar.CrashLoopDetector;
import io.istiovmagent.sidecar.ExitWatcher;
import io.istiovmagent.sidecar.PidfdExitWatcher;
import io.istiovmagent.sidecar.Readiness;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceManager;
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

/**
 * Watches istio.service and acts on it: starts it once the first bundle is in place, restarts it when the bundle's
 * configuration (not its token) changed, notices a crash loop and captures its diagnosis. Never stops it.
 *
 * <p>It does not ask systemd every second: the sidecar's main process is watched for its exit ({@link ExitWatcher}),
 * which wakes the daemon's loop at once; when to ask systemd and when to probe Envoy is {@link SidecarPollPolicy}'s.
 * systemctl and the probe run on a lane of its own ({@link IoLane}): a systemctl that hangs for its timeout (10 s, up
 * to three calls per look) holds up neither the watchdog nor the rest of the loop. What must be done to the unit is
 * the daemon's {@link SidecarIntent}, which outlives this object.
 */
public final class SidecarSupervisor implements AutoCloseable {
  /** Builds a supervisor for a configuration; the daemon makes a new one when it changes (and closes the old one). */
  public interface Factory {
    SidecarSupervisor create(AgentConfig.Sidecar config, RootFs fs, Log log);
  }

  /**
   * Wakes the daemon's loop when the unit changes: when the watched main process exits, and when the service
   * manager reports a change (where it can).
   */
  void watch(Runnable wake) {
    mainProcess.wakeWith(wake);
    lane.wakeWith(wake);
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
  private final Log log;
  private final IoLane lane;
  private final MainProcessWatch mainProcess;
  /** Set by the service manager's change hook. */
  private volatile boolean changeSignalled;

  private SidecarIntent intent = new SidecarIntent();
  /** What the last look threw (a bug in the service manager), rethrown on the loop for the step's guard. */
  private RuntimeException bug;
  private SidecarState label = SidecarState.Agent.UNKNOWN;
  private ServiceState state;
  private Readiness readiness;
  private boolean looping;
  private List<String> diagnosisLines = List.of();
  /** How often this supervisor restarted the unit (a changed configuration): for the metrics. */
  private long restartsDone;
  // When to look and probe (SidecarPollPolicy's inputs); loop thread only.
  private Instant lastLook;
  private boolean lastLookFailed;
  private boolean lookRequested;
  private Instant lastProbe;
  private long probedPid;

  /** A supervisor that looks at the unit every second: no exit watcher. */
  public SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      Log log) {
    this(unit, services, probe, diagnosis, ExitWatcher.none(), log);
  }

  public SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      ExitWatcher exits, Log log) {
    this(unit, services, probe, diagnosis, exits, log, new IoLane("sidecar-io"));
  }

  /** With the lane given: a test runs the calls within the tick. */
  SidecarSupervisor(String unit, ServiceManager services, ReadinessProbe probe, SidecarDiagnosis diagnosis,
      ExitWatcher exits, Log log, IoLane lane) {
    this.lane = Objects.requireNonNull(lane, "lane == null");
    this.unit = Objects.requireNonNull(unit, "unit == null");
    this.services = services;
    this.probe = probe;
    this.diagnosis = diagnosis;
    this.mainProcess = new MainProcessWatch(unit, Objects.requireNonNull(exits, "exits == null"), log);
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

  /** Takes the daemon's intent (it outlives this supervisor) and looks at once: there may be something to do. */
  void adopt(SidecarIntent intent) {
    this.intent = Objects.requireNonNull(intent, "intent == null");
    lookRequested = true;
  }

  /** After every install: the intent is updated, and the unit looked at at once when there is something to do. */
  void bundleInstalled(InstallReport report, boolean first, String token) {
    if (intent.installed(report, first, token)) {
      lookRequested = true;
    }
  }

  /** Asks for a look at the next tick (the intent changed). */
  void lookSoon() {
    lookRequested = true;
  }

  /** When {@link #tick} has something to do next ({@link Instant#MIN}: at once); the loop waits no longer. */
  Instant nextDue() {
    if (!services.available()) {
      return Instant.MAX;
    }
    if (lane.hasFinished()) {
      return Instant.MIN;
    }
    if (lane.busy()) {
      return Instant.MAX; // the call's end wakes the loop
    }
    Instant look = nextLook();
    if (state == null || !state.running()) {
      return look;
    }
    Instant probeAt = SidecarPollPolicy.nextProbe(lastProbe, readiness);
    return probeAt.isBefore(look) ? probeAt : look;
  }

  private Instant nextLook() {
    return SidecarPollPolicy.nextLook(lastLook, lastLookFailed ? null : state, mainProcess.watch(),
        mainProcess.exitSeenAt(),
        lookRequested || changeSignalled);
  }

  /**
   * Takes what systemctl or the probe answered, then asks again when the policy says so (state, actions due, crash
   * loop), or probes readiness when due; never waits for an answer.
   *
   * @return whether an answer came in (what {@link #status()} says may have changed)
   */
  boolean tick(Instant now) {
    if (!services.available()) {
      return setLabel(SidecarState.Agent.NO_SYSTEMD, "no systemd here: istio.service is not supervised");
    }
    boolean did = lane.takeFinished();
    if (!lane.busy() && !nextLook().isAfter(now)) {
      look(now);
      did |= lane.takeFinished();
    }
    if (!lane.busy() && state != null && state.installed() && state.running() && !lastLookFailed
        && !SidecarPollPolicy.nextProbe(lastProbe, readiness).isAfter(now)) {
      lastProbe = now;
      long pid = state.mainPid();
      probedPid = pid;
      lane.submit(probe::probe, r -> {
        if (state != null && state.running() && state.mainPid() == pid && probedPid == pid) {
          readiness = r;
        }
      });
      did |= lane.takeFinished();
    }
    if (bug != null) {
      throw bug; // on every pass until a look goes through: the step is failing, not flapping
    }
    return did;
  }

  /**
   * Before the loop: waits up to {@code within} for the first look (and probe), so that the first status says how the
   * sidecar is rather than "unknown" (after an upgrade's restart it is running and healthy).
   */
  void settle(Instant now, Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    tick(now);
    while (lane.busy() && System.nanoTime() < deadline) {
      if (lane.awaitFinished(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
        tick(now);
      }
    }
  }

  private void look(Instant now) {
    mainProcess.takeExit(now);
    changeSignalled = false;
    lookRequested = false;
    lastLook = now;
    SidecarIntent.Snapshot want = intent.snapshot();
    lane.submit(() -> SidecarLook.run(services, unit, want), r -> looked(r, want, now));
  }

  private void looked(SidecarLook r, SidecarIntent.Snapshot want, Instant now) {
    if (r.enabled()) {
      log.info("enabled " + unit);
    }
    if (r.started()) {
      log.info("started " + unit + " (the bundle is in place)");
    }
    if (r.restarted()) {
      restartsDone++;
      log.notice("restarting " + unit + ": " + want.reason());
    }
    bug = r.bug();
    if (bug != null) {
      return;
    }
    if (r.state() != null) {
      state = r.state();
    }
    if (r.failure() != null) {
      lastLookFailed = true;
      setLabel(SidecarState.Agent.UNKNOWN, "cannot ask systemd about " + unit + ": " + r.failure().getMessage());
      return;
    }
    lastLookFailed = false;
    if (!state.installed()) {
      setLabel(SidecarState.Agent.NOT_INSTALLED, unit + " is not installed (install istio-sidecar); the bundle is in place for it");
      return;
    }
    if (want.start() || want.restart()) {
      intent.done(want);
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
  }

  /** Watches the main process systemd named; Envoy's readiness is forgotten when that process changed. */
  private void follow(ServiceState s, Instant now) {
    if (!s.running()) {
      readiness = null;
      lastProbe = null;
      probedPid = 0;
      mainProcess.none();
      return;
    }
    long pid = s.mainPid();
    if (pid != probedPid) {
      readiness = null; // another process: its Envoy has not been asked yet
      lastProbe = null;
    }
    mainProcess.follow(pid, now);
  }

  /** Stops watching the sidecar's process (the daemon replaces this supervisor on reload, or stops). */
  @Override
  public void close() {
    mainProcess.close();
    lane.close();
  }

  private List<String> diagnose() {
    SidecarDiagnosis.Result r = diagnosis.lastLines(intent.secrets());
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

  /** How often this supervisor restarted the unit. */
  long restartsDone() {
    return restartsDone;
  }

  AgentStatus.Sidecar status() {
    Boolean ready = readiness == null ? null : readiness.ready();
    String why = readiness instanceof Readiness.NotReady n ? n.reason() : null;
    return new AgentStatus.Sidecar(true, label, state == null ? 0 : state.mainPid(),
        state == null ? 0 : state.nRestarts(), ready, why, looping, diagnosisLines);
  }
}
