package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Installer;
import io.istiovmagent.metrics.AgentMetrics;
import io.istiovmagent.metrics.TextfileWriter;
import io.istiovmagent.report.Reporter;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.LoggingNotifier;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.util.Log;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * `istio-vm-agent run`: keeps this VM in the mesh for as long as it lives. One thread runs one loop that steps its
 * parts: the bundle ({@link BundleKeeper}), istio.service ({@link SidecarLane}), the reporter ({@link ReporterKeeper})
 * and what it tells systemd, status.json ({@link StatusPublisher}) and node-exporter ({@link TextfileWriter}). Each
 * part does its blocking calls on a thread of its own and hands the answer back through the loop's queue, so the
 * loop waits on nothing slower than that queue and the watchdog ping is never starved; decisions are delegated to
 * pure policies.
 */
public final class AgentDaemon {
  /** How often the loop wakes at the least: sidecar state, installed files and the config file are looked at. */
  static final Duration TICK = Duration.ofSeconds(1);
  /**
   * The status is worked out again at least this often when nothing happened: for what changes with time alone
   * (a token or root certificate crossing an expiry threshold). Anything that happens is published in its pass.
   */
  static final Duration PUBLISH_EVERY = Duration.ofSeconds(5);
  /**
   * Before the loop, the first look at the sidecar may take this long (systemctl answers in milliseconds); a systemd
   * that does not answer is not waited for: the loop starts, and the status says "unknown" until it does.
   */
  static final Duration FIRST_LOOK = Duration.ofSeconds(1);

  /** Resolves the DNS-only gateway's name; an interface so tests need no DNS. */
  public interface Resolver {
    List<InetAddress> resolve(String host) throws UnknownHostException;
  }

  /**
   * Everything the daemon talks to, injected so tests run the real loop against real files and sockets;
   * {@code mainEnteredNanos} is System.nanoTime() when main was entered, where the start-up's timeline begins.
   */
  public record Options(RootFs fs, Path configPath, Clock clock, Notifier notifier,
      Optional<WatchdogSettings> watchdog, SidecarSupervisor.Factory sidecar, Resolver resolver,
      RandomGenerator random, Log log, String userAgent, String version, long mainEnteredNanos) {
    public Options {
      Objects.requireNonNull(fs, "fs == null");
      Objects.requireNonNull(configPath, "configPath == null");
      Objects.requireNonNull(clock, "clock == null");
      Objects.requireNonNull(notifier, "notifier == null");
      Objects.requireNonNull(watchdog, "watchdog == null");
    }
  }

  private enum Event { STOP, RELOAD, FETCH_NOW, CONFIRMED, WAKE }

  private final Options o;
  private final Log log;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final ReportHints hints = new ReportHints(() -> events.add(Event.FETCH_NOW),
      () -> events.add(Event.CONFIRMED));
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Instant startedAt;
  private final BundleKeeper bundle;
  private final StepGuard guard;
  private final StatusPublisher out;
  private final ConfigKeeper configs;
  private final StatusView view;
  /** The Prometheus textfile, written from the same snapshot as status.json. */
  private final TextfileWriter metrics;
  /** istio.service: the intent (the daemon's, so that no reload loses it) and its supervisor. */
  private final SidecarLane sidecar;

  private AgentConfig config;
  private final ReporterKeeper reporter;

  private final Ticker ticker;
  private final StartupTimeline timeline;
  private boolean stopping;
  /** Whether the loop was woken by an event since its last pass (so something happened). */
  private boolean woken = true;
  private Instant nextPublish = Instant.MIN;
  private Reporter.State publishedReport;
  /** How many times the status was worked out: for tests (an idle loop must not do it every tick). */
  private volatile long publishes;

  public AgentDaemon(Options options) {
    this(options, Ticker.QUEUE);
  }

  AgentDaemon(Options options, Ticker ticker) {
    this.o = options;
    this.ticker = Objects.requireNonNull(ticker, "ticker == null");
    this.timeline = new StartupTimeline(options.log(), options.mainEnteredNanos(), System::nanoTime);
    this.log = options.log();
    this.startedAt = options.clock().instant();
    CredentialsKeeper credentials = new CredentialsKeeper(options.fs(), log);
    TrustKeeper trust = new TrustKeeper(options.fs(), log);
    this.bundle = new BundleKeeper(options.fs(), options.clock(), options.resolver(), options.random(), log,
        options.userAgent(), timeline, credentials, trust);
    this.sidecar = new SidecarLane(options.sidecar(), options.fs(), log, () -> events.add(Event.WAKE));
    this.bundle.setListener(sidecar::installed);
    this.bundle.setWake(() -> events.add(Event.WAKE));
    this.guard = new StepGuard(log, options.clock());
    this.out = new StatusPublisher(new LoggingNotifier(options.notifier(), log), options.watchdog(), log);
    this.reporter = new ReporterKeeper(options.fs(), options.clock(), options.random(), log, options.userAgent(),
        hints::forReporter, credentials, trust);
    this.configs = new ConfigKeeper(options.configPath(), options.fs(), options.clock(), log);
    this.metrics = new TextfileWriter(options.fs(), log);
    this.view = new StatusView(bundle, sidecar, reporter, configs, guard, options.configPath(), options.version(),
        startedAt);
  }

  /** Asks the loop to stop (SIGTERM); safe from any thread. */
  public void requestStop() {
    events.add(Event.STOP);
  }

  /** Asks the loop to re-read its configuration (SIGHUP); safe from any thread. */
  public void requestReload() {
    events.add(Event.RELOAD);
  }

  /** Waits for the loop to finish its last pass after {@link #requestStop()}. */
  public boolean awaitStopped(Duration timeout) throws InterruptedException {
    return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** How many times the loop has worked out the status so far. */
  long publishes() {
    return publishes;
  }

  /**
   * Runs until {@link #requestStop()}; returns the exit code. Never returns just because the source is down, the
   * configuration is broken or a step of the loop has a bug; only an {@link Error} ends it early.
   */
  public int run() {
    try {
      start();
      while (true) {
        runPass(o.clock().instant());
        Event e;
        try {
          e = ticker.await(events, nextWaitMillis());
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          e = Event.STOP;
        }
        woken = e != null;
        if (e != null && !take(e)) {
          return 0;
        }
      }
    } finally {
      stopped.countDown();
    }
  }

  /** What comes before the loop: the configuration, the last-known-good restored, a first look, a first status. */
  void start() {
    log.info("istio-vm-agent " + o.version() + " starting (root " + o.fs().root() + ")");
    timeline.partsBuilt();
    timeline.time("configuration", () -> config = configs.atStart());
    guard.run("applying the configuration", this::applyConfig);
    // Whatever the configuration says: after a reboot the token in tmpfs is gone, and istio.service needs it.
    guard.run("restoring the last-known-good", () -> timeline.time("last-known-good", bundle::restoreLastKnownGood));
    // A restored bundle is announced before the network is touched: the source may take a timeout to answer,
    // and istio.service, ordered after the agent, can start on the restored files meanwhile. The sidecar is looked
    // at first, so that the first status and report say how it is rather than "unknown" (UNHEALTHY): after an
    // upgrade's restart it is running and healthy.
    guard.run("sidecar supervision", () -> {
      if (bundle.installed()) {
        sidecar.settle(o.clock().instant(), FIRST_LOOK);
      }
    });
    guard.run("publishing the status", () -> timeline.time("first status", () -> publish(o.clock().instant())));
  }

  /**
   * One pass of the loop at {@code now}, for tests that drive the daemon with their own clock instead of its
   * thread and ticker: the events queued since the last pass are handled (without waiting for any), then every
   * part steps. Returns false once it handled a stop.
   */
  boolean runOnce(Instant now) {
    for (Event e = events.poll(); e != null; e = events.poll()) {
      woken = true;
      if (!take(e)) {
        return false;
      }
    }
    runPass(now);
    woken = false;
    return true;
  }

  /**
   * Every part steps; the status is worked out again only when something happened in this pass (or every
   * PUBLISH_EVERY, for what changes with time alone: expiry thresholds), not on every idle tick. Each step is
   * guarded: a bug in one is reported, and the others still run.
   */
  private void runPass(Instant now) {
    boolean happened = woken;
    happened |= guard.run("watching the configuration file", this::watchConfigFile);
    happened |= guard.run("fetching the bundle", () -> bundle.fetchIfDue(now));
    happened |= guard.run("checking the installed files", () -> bundle.maintain(now));
    // The sidecar is looked after once there is a bundle for it.
    happened |= guard.run("sidecar supervision", () -> bundle.installed() && sidecar.tick(now));
    if (happened || !now.isBefore(nextPublish) || reporter.state() != publishedReport) {
      guard.run("publishing the status", () -> publish(now));
    }
    guard.run("pinging the watchdog", out::pingWatchdog);
  }

  /** Handles an event; false when it was the stop. */
  private boolean take(Event e) {
    if (e == Event.STOP) {
      guard.run("stopping", this::stop);
      return false;
    }
    guard.run("handling " + e, () -> handle(e));
    return true;
  }

  private void handle(Event e) {
    if (e == Event.RELOAD) {
      reload(true);
    } else if (e == Event.FETCH_NOW) {
      bundle.fetchNow();
    } else if (e == Event.CONFIRMED) {
      hints.take().ifPresent(c -> bundle.confirmed(c.revision(), c.sentAt(),
          ConfirmationPolicy.sameOrigin(c.reportUrl(), config.bundle().source().orElse(null))));
    }
  }

  /** How long to wait for an event ({@link LoopWait}). */
  private long nextWaitMillis() {
    long[] wait = {TICK.toMillis()};
    guard.run("scheduling", () -> {
      wait[0] = LoopWait.millis(o.clock().instant(), TICK, bundle.wakeAt(), out.watchdogDueInMillis(),
          bundle.installed() ? sidecar.nextDue() : null);
    });
    return guard.takeFailedThisPass() ? LoopWait.afterAFailedStep(wait[0], TICK, out.watchdogDueInMillis()) : wait[0];
  }

  // --- configuration ---

  /**
   * Applies {@link #config}: each part compares its section and rebuilds only when it changed; the others keep their
   * state (the sidecar's supervisor its history, the fetch schedule its ETag and the fetch under way). A reload
   * fetches at once (docs/protocol.md), conditionally when the source is the same.
   */
  private void applyConfig() {
    out.writeTo(new StatusFile(o.fs().lexical(config.paths().runDir())));
    sidecar.configure(config.sidecar());
    metrics.configure(config.metrics());
    timeline.time("bundle source and TLS trust", () -> bundle.reconfigure(config));
    // The fetch runs on its own thread: started now, it overlaps what comes before the loop (the reporter's TLS
    // client and host addresses, restoring the last-known-good, the first status), whose result the loop takes.
    bundle.fetchIfDue(o.clock().instant());
    timeline.time("reporter", () -> reporter.configure(config));
    if (config.bundle().source().isEmpty()) {
      log.notice("waiting for configuration: set bundle.source in " + o.configPath()
          + " (the agent picks it up on SIGHUP or when the file changes)");
    }
  }

  /**
   * Re-reads config.yaml: on SIGHUP ({@code asked}), or when the file changed. A rewrite that changes nothing (the
   * same configuration, the same token and CA files) does nothing.
   */
  private void reload(boolean asked) {
    Optional<AgentConfig> reloaded = configs.reload();
    if (!asked && reloaded.isPresent() && reloaded.get().equals(config)
        && bundle.unchangedFor(config) && reporter.unchangedFor(config)) {
      log.info(o.configPath() + " says what it said: nothing to reload");
      return;
    }
    out.reloading();
    log.info("reloading configuration from " + o.configPath());
    if (reloaded.isPresent()) {
      config = reloaded.get();
      // The same step as at start: a reload that applies cleanly clears a bug met there.
      guard.run("applying the configuration", this::applyConfig);
    }
    out.reloaded();
  }

  /** Reloads when the file changed; returns whether it did. */
  private boolean watchConfigFile() {
    if (configs.changed()) {
      log.info(o.configPath() + " changed");
      reload(false);
      return true;
    }
    return false;
  }

  // --- telling systemd, status.json and the control plane ---

  /** Works out the status and tells status.json, systemd and the reporter. */
  private void publish(Instant now) {
    publishes++;
    nextPublish = now.plus(PUBLISH_EVERY);
    publishedReport = reporter.state();
    AgentStatus s = snapshot(now);
    reporter.offer(s);
    // READY=1 once a verified bundle is in place. An agent with no configuration at all is started too: it has
    // nothing to install and waits (dpkg -i starts it unconfigured; a start job pending forever would fail the
    // unit). An agent whose source is down on first boot is not: istio.service, ordered after it, must wait.
    boolean ready = bundle.installed() || s.phase() == AgentStatus.Phase.WAITING_FOR_CONFIGURATION;
    out.publish(s, ready, bundle.installed() ? "ready: bundle " + Installer.shortRevision(bundle.current().revision())
        + " in place" : "ready: waiting for configuration", view.line(s));
    if (out.readySent()) {
      timeline.ready();
    }
    metrics.step(now, AgentMetrics.render(s, view.counters()), false);
  }

  AgentStatus snapshot(Instant now) {
    return view.snapshot(now, StatusView.phase(stopping, config.bundle().source().isPresent(), bundle.installed()));
  }

  private void stop() {
    stopping = true;
    sidecar.close();
    bundle.close();
    out.stopping();
    log.info("stopping (istio.service is left running)");
    AgentStatus last = snapshot(o.clock().instant());
    out.write(last);
    metrics.step(last.updatedAt(), AgentMetrics.render(last, view.counters()), true);
    try {
      reporter.stop(last);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
