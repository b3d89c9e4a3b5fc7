package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Installer;
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
import java.util.concurrent.atomic.AtomicReference;
import java.util.random.RandomGenerator;
import okhttp3.HttpUrl;

/**
 * `istio-vm-agent run`: keeps this VM in the mesh for as long as it lives. One thread runs one loop that steps its
 * parts: the bundle ({@link BundleKeeper}), istio.service ({@link SidecarLane}), the reporter ({@link ReporterKeeper})
 * and what it tells systemd and status.json ({@link StatusPublisher}). Each part does its blocking calls on a thread
 * of its own and hands the answer back through the loop's queue, so the loop waits on nothing slower than that queue
 * and the watchdog ping is never starved; decisions are delegated to pure policies.
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

  /** Everything the daemon talks to, injected so tests run the real loop against real files and sockets. */
  public record Options(RootFs fs, Path configPath, Clock clock, Notifier notifier,
      Optional<WatchdogSettings> watchdog, SidecarSupervisor.Factory sidecar, Resolver resolver,
      RandomGenerator random, Log log, String userAgent, String version) {
    public Options {
      Objects.requireNonNull(fs, "fs == null");
      Objects.requireNonNull(configPath, "configPath == null");
      Objects.requireNonNull(clock, "clock == null");
      Objects.requireNonNull(notifier, "notifier == null");
      Objects.requireNonNull(watchdog, "watchdog == null");
    }
  }

  private enum Event { STOP, RELOAD, FETCH_NOW, CONFIRMED, WAKE }

  /** A report answer confirming a bundle revision, handed from the reporter's thread to the loop. */
  private record Confirmed(HttpUrl reportUrl, String revision, Instant sentAt) {}

  private final Options o;
  private final Log log;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  /** The latest confirmation not yet taken by the loop (a newer one replaces it; CONFIRMED wakes the loop). */
  private final AtomicReference<Confirmed> confirmation = new AtomicReference<>();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Instant startedAt;
  private final BundleKeeper bundle;
  private final StepGuard guard;
  private final StatusPublisher out;
  private final ConfigKeeper configs;
  private final StatusView view;
  /** istio.service: the intent (the daemon's, so that no reload loses it) and its supervisor. */
  private final SidecarLane sidecar;
  private volatile Runnable iterationHook = () -> {};

  private AgentConfig config;
  private final ReporterKeeper reporter;

  private boolean stopping;
  private Instant nextPublish = Instant.MIN;
  private Reporter.State publishedReport;
  /** How many times the status was worked out: for tests (an idle loop must not do it every tick). */
  private volatile long publishes;

  public AgentDaemon(Options options) {
    this.o = options;
    this.log = options.log();
    this.startedAt = options.clock().instant();
    this.bundle = new BundleKeeper(options.fs(), options.clock(), options.resolver(), options.random(), log,
        options.userAgent());
    this.sidecar = new SidecarLane(options.sidecar(), options.fs(), log, () -> events.add(Event.WAKE));
    this.bundle.setListener(sidecar::installed);
    this.bundle.setWake(() -> events.add(Event.WAKE));
    this.guard = new StepGuard(log, options.clock());
    this.out = new StatusPublisher(new LoggingNotifier(options.notifier(), log), options.watchdog(), log);
    this.reporter = new ReporterKeeper(options.fs(), options.clock(), options.random(), log, options.userAgent(),
        this::hints);
    this.configs = new ConfigKeeper(options.configPath(), options.fs(), options.clock(), log);
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

  /** Test hook: runs at the start of every loop pass (a test can block it to wedge the loop). */
  void setIterationHook(Runnable hook) {
    this.iterationHook = hook;
  }

  /**
   * Runs until {@link #requestStop()}; returns the exit code. Never returns just because the source is down, the
   * configuration is broken or a step of the loop has a bug; only an {@link Error} ends it early.
   */
  public int run() {
    try {
      log.info("istio-vm-agent " + o.version() + " starting (root " + o.fs().root() + ")");
      config = configs.atStart();
      guard.run("applying the configuration", this::applyConfig);
      // Whatever the configuration says: after a reboot the token in tmpfs is gone, and istio.service needs it.
      guard.run("restoring the last-known-good", bundle::restoreLastKnownGood);
      // A restored bundle is announced before the network is touched: the source may take a timeout to answer,
      // and istio.service, ordered after the agent, can start on the restored files meanwhile. The sidecar is looked
      // at first, so that the first status and report say how it is rather than "unknown" (UNHEALTHY): after an
      // upgrade's restart it is running and healthy.
      guard.run("sidecar supervision", () -> {
        if (bundle.installed()) {
          sidecar.settle(o.clock().instant(), FIRST_LOOK);
        }
      });
      guard.run("publishing the status", () -> publish(o.clock().instant()));
      return loop();
    } finally {
      stopped.countDown();
    }
  }

  private int loop() {
    boolean woken = true;
    while (true) {
      iterationHook.run();
      // What happened in this pass; the status is worked out again only then (or every PUBLISH_EVERY, for what
      // changes with time alone: expiry thresholds), not on every idle tick. Each step is guarded: a bug in one is
      // reported, and the others still run.
      boolean happened = woken;
      happened |= guard.run("watching the configuration file", this::watchConfigFile);
      happened |= guard.run("fetching the bundle", () -> bundle.fetchIfDue(o.clock().instant()));
      happened |= guard.run("checking the installed files", () -> bundle.maintain(o.clock().instant()));
      // The sidecar is looked after once there is a bundle for it.
      happened |= guard.run("sidecar supervision", () -> bundle.installed() && sidecar.tick(o.clock().instant()));
      Instant now = o.clock().instant();
      if (happened || !now.isBefore(nextPublish) || reporter.state() != publishedReport) {
        guard.run("publishing the status", () -> publish(now));
      }
      guard.run("pinging the watchdog", out::pingWatchdog);
      Event e;
      try {
        e = events.poll(nextWaitMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        e = Event.STOP;
      }
      woken = e != null;
      if (e == Event.STOP) {
        guard.run("stopping", this::stop);
        return 0;
      }
      Event event = e;
      guard.run("handling " + e, () -> handle(event));
    }
  }

  private void handle(Event e) {
    if (e == Event.RELOAD) {
      reload(true);
    } else if (e == Event.FETCH_NOW) {
      bundle.fetchNow();
    } else if (e == Event.CONFIRMED) {
      Confirmed c = confirmation.getAndSet(null);
      if (c != null) {
        bundle.confirmed(c.revision(), c.sentAt(),
            ConfirmationPolicy.sameOrigin(c.reportUrl(), config.bundle().source().orElse(null)));
      }
    }
  }

  /** How long to wait for an event; after a step failed, a tick at least, so a bug is not run into in a hot loop. */
  private long nextWaitMillis() {
    long[] wait = {TICK.toMillis()};
    guard.run("scheduling", () -> {
      wait[0] = waitMillis(o.clock().instant());
    });
    if (guard.takeFailedThisPass()) {
      wait[0] = Math.max(wait[0], Math.min(TICK.toMillis(), out.watchdogDueInMillis()));
    }
    return wait[0];
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
    bundle.reconfigure(config);
    // The fetch runs on its own thread: started now, it overlaps what comes before the loop (the reporter's TLS
    // client and host addresses, restoring the last-known-good, the first status), whose result the loop takes.
    bundle.fetchIfDue(o.clock().instant());
    reporter.configure(config);
    if (config.bundle().source().isEmpty()) {
      log.notice("waiting for configuration: set bundle.source in " + o.configPath()
          + " (the agent picks it up on SIGHUP or when the file changes)");
    }
  }

  /** The reporter's hints, from its thread to the loop through the event queue. */
  private Reporter.Hints hints(HttpUrl reportUrl) {
    return new Reporter.Hints() {
      @Override
      public void fetchBundleNow() {
        events.add(Event.FETCH_NOW);
      }

      @Override
      public void bundleConfirmed(String revision, Instant sentAt) {
        confirmation.set(new Confirmed(reportUrl, revision, sentAt));
        events.add(Event.CONFIRMED);
      }
    };
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
  }

  AgentStatus snapshot(Instant now) {
    return view.snapshot(now, StatusView.phase(stopping, config.bundle().source().isPresent(), bundle.installed()));
  }

  private long waitMillis(Instant now) {
    long wait = TICK.toMillis();
    Instant next = bundle.wakeAt();
    if (next != null) {
      wait = Math.min(wait, Math.max(0, Duration.between(now, next).toMillis()));
    }
    wait = Math.min(wait, out.watchdogDueInMillis());
    if (bundle.installed()) {
      // Sooner than the tick only while the supervisor catches up with an exit it was woken for.
      Instant due = sidecar.nextDue();
      if (due.isBefore(now.plus(TICK))) {
        wait = Math.min(wait, due.isAfter(now) ? Duration.between(now, due).toMillis() : 0);
      }
    }
    return wait;
  }

  private void stop() {
    stopping = true;
    sidecar.close();
    bundle.close();
    out.stopping();
    log.info("stopping (istio.service is left running)");
    AgentStatus last = snapshot(o.clock().instant());
    out.write(last);
    try {
      reporter.stop(last);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
