package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BearerToken;
import io.istiovmagent.bundle.BundleSource;
import io.istiovmagent.bundle.BundleSources;
import io.istiovmagent.bundle.FetchResult;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.SourceConfigException;
import io.istiovmagent.bundle.SourceException;
import io.istiovmagent.bundle.TlsTrust;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.install.Destination;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.install.RootFs;
import io.istiovmagent.report.HostInfo;
import io.istiovmagent.report.Reporter;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.HealthAssessor;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.Notifications;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.WatchdogSettings;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.RootCertificate;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import okhttp3.HttpUrl;

/**
 * `istio-vm-agent run`: keeps this VM in the mesh for as long as it lives. One thread runs one loop; decisions are
 * delegated to pure policies, and everything it knows goes to status.json and systemd's STATUS= line.
 */
public final class AgentDaemon {
  /** How often the loop wakes at the least: sidecar state, /etc/hosts and the config file are looked at each time. */
  static final Duration TICK = Duration.ofSeconds(1);
  /** Installed files and the hosts block are compared in full this often, even when nothing seemed to change. */
  static final Duration FULL_CHECK = Duration.ofSeconds(30);
  /** The STOPPING report may hold up shutdown this long at most (the unit's stop timeout is larger). */
  static final Duration REPORT_ON_STOP = Duration.ofSeconds(3);

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

  private enum Event { STOP, RELOAD, FETCH_NOW }

  private final Options o;
  private final Log log;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Instant startedAt;
  private volatile Runnable iterationHook = () -> {};

  private AgentConfig config;
  private FileStamp configStamp;
  private BundleSource source;
  private String sourceProblem;
  private BundleVerifier verifier;
  private Installer installer;
  private StatusFile statusFile;
  private SidecarSupervisor sidecar;
  private Reporter reporter;
  private AgentConfig.Report reporterConfig;

  private VerifiedBundle current;
  private String currentSource;
  private boolean fromLastKnownGood;
  private Instant fetchedAt;
  private Instant lastCheckedAt;
  private Optional<String> etag = Optional.empty();
  private int failures;
  private Instant nextFetchAt;
  private AgentStatus.LastError lastError;

  private List<HostsEntry> hostsEntries = List.of();
  private Map<Path, FileStamp> installedStamps = Map.of();
  private Instant nextFullCheck;
  private int hostsRepairs;
  private Instant lastHostsRepair;
  private String hostsWarning;

  private AgentStatus.Phase phase = AgentStatus.Phase.STARTING;
  private boolean readySent;
  private String lastStatusLine;
  private AgentStatus lastWritten;
  private long nextWatchdogNanos;

  public AgentDaemon(Options options) {
    this.o = options;
    this.log = options.log();
    this.startedAt = options.clock().instant();
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

  /** Test hook: runs at the start of every loop pass (a test can block it to wedge the loop). */
  void setIterationHook(Runnable hook) {
    this.iterationHook = hook;
  }

  /** Runs until {@link #requestStop()}; returns the exit code. Never returns just because the source is down. */
  public int run() {
    try {
      log.info("istio-vm-agent " + o.version() + " starting (root " + o.fs().root() + ")");
      try {
        config = ConfigLoader.load(o.configPath());
      } catch (ConfigException e) {
        log.error("configuration error: " + e.getMessage());
        o.notifier().send(Notifications.status("configuration error: " + e.getMessage()));
        return 78;
      }
      configStamp = FileStamp.of(o.configPath());
      applyConfig();
      restoreLastKnownGood();
      hostsWarning = CloudInitHosts.warning(o.fs()).orElse(null);
      if (hostsWarning != null) {
        log.warn(hostsWarning);
      }
      nextFetchAt = o.clock().instant();
      nextFullCheck = o.clock().instant().plus(FULL_CHECK);
      // A restored bundle is announced before the network is touched: the source may take a timeout to answer,
      // and istio.service, ordered after the agent, can start on the restored files meanwhile.
      publish(o.clock().instant());
      return loop();
    } finally {
      stopped.countDown();
    }
  }

  private int loop() {
    while (true) {
      iterationHook.run();
      Instant now = o.clock().instant();
      watchConfigFile();
      if (source != null && !now.isBefore(nextFetchAt)) {
        refresh(now);
      }
      maintainInstalledFiles(o.clock().instant());
      if (sidecar != null && current != null) {
        sidecar.tick(o.clock().instant());
      }
      publish(o.clock().instant());
      pingWatchdog();
      Event e;
      try {
        e = events.poll(waitMillis(o.clock().instant()), TimeUnit.MILLISECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        e = Event.STOP;
      }
      if (e == Event.STOP) {
        stop();
        return 0;
      }
      if (e == Event.RELOAD) {
        reload();
      } else if (e == Event.FETCH_NOW && source != null) {
        nextFetchAt = o.clock().instant();
      }
    }
  }

  // --- configuration ---

  private void applyConfig() {
    RootFs fs = o.fs();
    verifier = new BundleVerifier(o.clock(), new HashSet<>(config.hosts().allowedNames()));
    installer = new Installer(fs, new LastKnownGood(fs.lexical(config.paths().stateDir())), o.clock());
    statusFile = new StatusFile(fs.lexical(config.paths().runDir()));
    sidecar = config.sidecar().manage() ? o.sidecar().create(config.sidecar(), fs, log) : null;
    configureReporter();
    source = null;
    sourceProblem = null;
    etag = Optional.empty();
    failures = 0;
    if (config.bundle().source().isEmpty()) {
      phase = AgentStatus.Phase.WAITING_FOR_CONFIGURATION;
      log.notice("waiting for configuration: set bundle.source in " + o.configPath()
          + " (the agent picks it up on SIGHUP or when the file changes)");
      return;
    }
    try {
      source = BundleSources.open(config.bundle().source().get(), new BundleSources.Transport(
          config.bundle().caFile(), config.bundle().tokenFile(), config.bundle().timeout(), o.userAgent(), o.clock()));
    } catch (SourceConfigException e) {
      sourceProblem = e.getMessage();
      lastError = new AgentStatus.LastError(o.clock().instant(), "bundle source unusable: " + e.getMessage());
      log.error(lastError.message());
    }
    phase = current == null ? AgentStatus.Phase.WAITING_FOR_BUNDLE : AgentStatus.Phase.RUNNING;
  }

  /** (Re)starts the reporter when report.url or its interval changed; none without report.url. */
  private void configureReporter() {
    if (config.report().equals(reporterConfig) && reporter != null) {
      return;
    }
    if (reporter != null) {
      reporter.close();
      reporter = null;
    }
    reporterConfig = config.report();
    if (config.report().url().isEmpty()) {
      return;
    }
    try {
      HttpUrl url = HttpUrl.parse(config.report().url().get());
      if (url == null) {
        throw new SourceConfigException("report.url is not a valid https:// URL");
      }
      Optional<BearerToken> credential = config.bundle().tokenFile().isPresent()
          ? Optional.of(BearerToken.readFile(config.bundle().tokenFile().get())) : Optional.empty();
      reporter = new Reporter(url, TlsTrust.trustManager(config.bundle().caFile()), credential,
          config.report().interval(), config.bundle().timeout(), backoff(), o.random(), HostInfo.read(o.fs()),
          o.clock(), log, o.userAgent(), () -> events.add(Event.FETCH_NOW));
      reporter.start();
      log.info("reporting health to " + url.newBuilder().query(null).build() + " every "
          + config.report().interval().toSeconds() + "s and on every change");
    } catch (SourceConfigException e) {
      log.error("health reporting disabled: " + e.getMessage());
    }
  }

  private void reload() {
    // RELOADING=1 ... READY=1 brackets a reload; before the first READY=1 there is no started state to reload.
    if (readySent) {
      o.notifier().send(Notifications.reloading(Notifications.monotonicMicros()));
    }
    log.info("reloading configuration from " + o.configPath());
    try {
      config = ConfigLoader.load(o.configPath());
      configStamp = FileStamp.of(o.configPath());
      applyConfig();
      nextFetchAt = o.clock().instant();
    } catch (ConfigException e) {
      lastError = new AgentStatus.LastError(o.clock().instant(), "configuration not reloaded: " + e.getMessage());
      log.error(lastError.message() + " (the previous configuration stays in force)");
    }
    if (readySent) {
      o.notifier().send(Notifications.ready());
    }
  }

  private void watchConfigFile() {
    FileStamp now = FileStamp.of(o.configPath());
    if (!Objects.equals(now, configStamp)) {
      configStamp = now;
      log.info(o.configPath() + " changed");
      reload();
    }
  }

  // --- the bundle ---

  /** Restore first: after a reboot the token in tmpfs is gone; put the last-known-good back before the network. */
  private void restoreLastKnownGood() {
    LastKnownGood lkg = new LastKnownGood(o.fs().lexical(config.paths().stateDir()));
    Optional<LastKnownGood.Record> rec;
    try {
      rec = lkg.load();
    } catch (IOException | RuntimeException e) {
      log.warn("the last-known-good bundle cannot be read and is ignored: " + e.getMessage());
      return;
    }
    if (rec.isEmpty()) {
      log.info("no last-known-good bundle yet (first start)");
      return;
    }
    try {
      VerifiedBundle b = verifier.verifyForRestore(rec.get().bundle());
      for (Problem w : b.warnings()) {
        log.warn("last-known-good: " + w.format());
      }
      install(b, rec.get().source(), "restored last-known-good");
      fromLastKnownGood = true;
      fetchedAt = rec.get().savedAt();
    } catch (BadBundleException e) {
      log.error("the last-known-good bundle no longer verifies and is not restored: " + e.getMessage());
    } catch (IOException e) {
      log.error("restoring the last-known-good bundle failed: " + e.getMessage());
    }
  }

  private void refresh(Instant now) {
    try {
      FetchResult r = source.fetch(current != null && !fromLastKnownGood ? etag : Optional.empty());
      lastCheckedAt = o.clock().instant();
      if (r instanceof FetchResult.Fetched f) {
        VerifiedBundle b = verifier.verify(f.bundle());
        for (Problem w : b.warnings()) {
          log.warn(w.format());
        }
        install(b, source.describe(), "applied");
        etag = f.etag();
        fetchedAt = lastCheckedAt;
        fromLastKnownGood = false;
      } else {
        log.debug("bundle unchanged (HTTP 304)");
        refreshGatewayHosts();
      }
      failures = 0;
      lastError = null;
      Instant base = lastCheckedAt;
      nextFetchAt = new RefreshPolicy(config.bundle().refreshInterval()).next(base, tokenWindow()).at();
    } catch (SourceException e) {
      failed(now, FailureClass.of(e), e.retryAfter(), "cannot fetch the bundle: " + e.getMessage());
    } catch (BadBundleException e) {
      for (Problem p : e.problems()) {
        log.error("refused: " + p.format());
      }
      failed(now, FailureClass.of(e), Optional.empty(), "bundle refused: " + e.problems().get(0).format()
          + (e.problems().size() > 1 ? " (+" + (e.problems().size() - 1) + " more)" : "")
          + "; the installed bundle stays in force");
    } catch (IOException e) {
      failed(now, FailureClass.TRANSIENT, Optional.empty(), "cannot install the bundle: " + e.getMessage());
    }
  }

  private void failed(Instant now, FailureClass kind, Optional<Duration> retryAfter, String message) {
    failures++;
    lastError = new AgentStatus.LastError(now, message);
    Optional<Duration> tokenLeft = current == null ? Optional.empty()
        : Optional.of(Duration.between(now, current.token().expiresAt()));
    Duration delay = backoff().delay(failures, kind, retryAfter, tokenLeft);
    nextFetchAt = o.clock().instant().plus(delay);
    log.warn(message + " (attempt " + failures + ", retrying in " + delay.toSeconds() + "s)");
  }

  private Backoff backoff() {
    return new Backoff(Backoff.DEFAULT_BASE, config.bundle().backoffCap(), o.random());
  }

  private Optional<RefreshPolicy.TokenWindow> tokenWindow() {
    return current == null ? Optional.empty() : RefreshPolicy.TokenWindow.of(current.token(), lastCheckedAt);
  }

  private void install(VerifiedBundle b, String from, String verb) throws IOException {
    List<HostsEntry> hosts = hostsFor(b);
    InstallReport report = installer.install(b, from, hosts);
    for (String w : report.warnings()) {
      log.warn(w);
    }
    boolean first = current == null;
    VerifiedBundle previous = current;
    current = b;
    currentSource = from;
    hostsEntries = hosts;
    installedStamps = installedStamps();
    phase = AgentStatus.Phase.RUNNING;
    if (report.changedAnything() || first) {
      log.info(verb + " bundle " + Installer.shortRevision(b.revision()) + " from " + from + ": "
          + report.changes().stream().filter(c -> c.action() != InstallReport.Action.UNCHANGED)
              .map(c -> c.action().label() + " " + c.path()).reduce((x, y) -> x + ", " + y).orElse("nothing changed"));
    }
    if (sidecar != null) {
      byte[] token = b.raw().files().get(io.istiovmagent.bundle.BundleFile.TOKEN);
      sidecar.bundleInstalled(report, previous == null,
          new String(token, java.nio.charset.StandardCharsets.US_ASCII).strip());
    }
  }

  /** A DNS-only gateway's addresses can change while the bundle does not: re-resolve on every successful check. */
  private void refreshGatewayHosts() throws IOException {
    if (current == null || !current.hosts().isEmpty() || config.hosts().gatewayHostname().isEmpty()) {
      return;
    }
    List<HostsEntry> fresh = hostsFor(current);
    if (!fresh.equals(hostsEntries)) {
      hostsEntries = fresh;
      installer.syncHosts(fresh).ifPresent(r -> log.info("gateway " + config.hosts().gatewayHostname().get()
          + " resolves differently: " + r.change().detail()));
      installedStamps = installedStamps();
    }
  }

  private List<HostsEntry> hostsFor(VerifiedBundle b) {
    Optional<String> gateway = config.hosts().gatewayHostname();
    if (!b.hosts().isEmpty() || gateway.isEmpty()) {
      return b.hosts();
    }
    List<String> names = GatewayHosts.istiodNames(b, new HashSet<>(config.hosts().allowedNames()));
    try {
      List<HostsEntry> entries = GatewayHosts.entries(names, o.resolver().resolve(gateway.get()));
      if (entries.isEmpty()) {
        log.warn("hosts.gatewayHostname " + gateway.get() + " resolved to no usable address");
      }
      return entries;
    } catch (UnknownHostException e) {
      log.warn("cannot resolve hosts.gatewayHostname " + gateway.get() + "; keeping the current hosts entries");
      return hostsEntries;
    }
  }

  // --- keeping what is installed in place ---

  /**
   * Puts back what someone else changed: each pass stats the installed files (a deleted token, an edited
   * cluster.env, an /etc/hosts rewritten by cloud-init), and every {@link #FULL_CHECK} compares them in full anyway.
   * Re-laying the bundle writes only what differs.
   */
  private void maintainInstalledFiles(Instant now) {
    if (current == null) {
      return;
    }
    try {
      Map<Path, FileStamp> stamps = installedStamps();
      if (stamps.equals(installedStamps) && now.isBefore(nextFullCheck)) {
        return;
      }
      nextFullCheck = now.plus(FULL_CHECK);
      InstallReport r = installer.install(current, currentSource, hostsEntries);
      for (InstallReport.Change c : r.changes()) {
        if (c.action() == InstallReport.Action.UNCHANGED) {
          continue;
        }
        if (c.path().equals(Destination.HOSTS)) {
          hostsRepaired(now);
        } else {
          log.warn("repaired " + c.path() + " (" + c.action().label() + (c.detail().isEmpty() ? "" : ": " + c.detail())
              + ")");
        }
      }
      r.warnings().forEach(log::warn);
      installedStamps = installedStamps();
    } catch (IOException e) {
      lastError = new AgentStatus.LastError(now, "cannot check installed files: " + e.getMessage());
      log.error(lastError.message());
    }
  }

  private Map<Path, FileStamp> installedStamps() throws IOException {
    Map<Path, FileStamp> out = new HashMap<>();
    for (Destination d : Destination.values()) {
      Path p = o.fs().resolve(d.path());
      out.put(p, FileStamp.of(p));
    }
    Path hosts = o.fs().resolve(Destination.HOSTS);
    out.put(hosts, FileStamp.of(hosts));
    return out;
  }

  private void hostsRepaired(Instant now) {
    hostsRepairs++;
    lastHostsRepair = now;
    log.warn("/etc/hosts was rewritten without the agent's block; block restored (repair " + hostsRepairs + ")");
  }

  // --- telling systemd and people ---

  /** status.json first, then systemd: whoever reacts to READY=1 or a STATUS= line finds the status to match. */
  private void publish(Instant now) {
    AgentStatus s = snapshot(now);
    if (reporter != null) {
      reporter.offer(s);
    }
    if (lastWritten == null || !sameExceptTime(lastWritten, s)) {
      try {
        statusFile.write(s);
        lastWritten = s;
      } catch (IOException e) {
        log.error("cannot write " + statusFile.file() + ": " + e.getMessage());
      }
    }
    // READY=1 once a verified bundle is in place. An agent with no configuration at all is started too: it has
    // nothing to install and waits (dpkg -i starts it unconfigured; a start job pending forever would fail the
    // unit). An agent whose source is down on first boot is not: istio.service, ordered after it, must wait.
    if (!readySent && (current != null || phase == AgentStatus.Phase.WAITING_FOR_CONFIGURATION)) {
      o.notifier().send(Notifications.ready());
      readySent = true;
      log.notice(current != null ? "ready: bundle " + Installer.shortRevision(current.revision()) + " in place"
          : "ready: waiting for configuration");
    }
    String line = statusLine(s);
    if (!line.equals(lastStatusLine)) {
      o.notifier().send(Notifications.status(line));
      lastStatusLine = line;
    }
  }

  AgentStatus snapshot(Instant now) {
    AgentStatus.Bundle bundle = null;
    if (current != null) {
      bundle = new AgentStatus.Bundle(currentSource, current.revision(), fetchedAt, lastCheckedAt, fromLastKnownGood,
          current.token().expiresAt(), current.rootCertificates().stream().map(RootCertificate::notAfter)
              .min(Instant::compareTo).orElse(null), current.namespace(), current.serviceAccount(),
          current.workloadGroup(), current.clusterEnv().nonEmpty("ISTIO_META_CLUSTER_ID"),
          current.clusterEnv().nonEmpty("ISTIO_META_NETWORK"));
    }
    AgentStatus.Hosts hosts = new AgentStatus.Hosts(hostsEntries.size(), hostsRepairs, lastHostsRepair, hostsWarning);
    AgentStatus.Sidecar sc = sidecar == null ? new AgentStatus.Sidecar(false, "unmanaged", 0, 0, null, null, false,
        List.of()) : sidecar.status();
    AgentStatus.LastError err = lastError != null ? lastError
        : sourceProblem != null ? new AgentStatus.LastError(now, sourceProblem) : null;
    AgentStatus draft = new AgentStatus(AgentStatus.FORMAT, ProcessHandle.current().pid(), o.version(), startedAt,
        now, phase, AgentStatus.Health.DEGRADED, List.of(), bundle, hosts, sc, err,
        source == null ? null : nextFetchAt, null);
    HealthAssessor.Assessment a = HealthAssessor.assess(draft, now);
    AgentStatus.Report rep = null;
    if (reporter != null) {
      Reporter.State st = reporter.state();
      rep = new AgentStatus.Report(st.url(), st.lastDeliveredAt(), st.delivered(), st.lastError());
    }
    return new AgentStatus(draft.format(), draft.pid(), draft.version(), startedAt, now, phase, a.health(),
        a.reasons(), bundle, hosts, sc, err, draft.nextRefreshAt(), rep);
  }

  private static boolean sameExceptTime(AgentStatus a, AgentStatus b) {
    return a.withoutTime().equals(b.withoutTime());
  }

  private String statusLine(AgentStatus s) {
    if (phase == AgentStatus.Phase.WAITING_FOR_CONFIGURATION) {
      return "waiting for configuration: set bundle.source in " + o.configPath();
    }
    if (current == null) {
      return "no bundle yet: " + (lastError != null ? lastError.message() : "fetching from " + source.describe());
    }
    String head = s.health() + ": bundle " + Installer.shortRevision(current.revision())
        + (fromLastKnownGood ? " (last-known-good)" : "");
    return s.reasons().isEmpty() ? head : head + "; " + s.reasons().get(0);
  }

  private void pingWatchdog() {
    if (o.watchdog().isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    if (now - nextWatchdogNanos >= 0) {
      o.notifier().send(Notifications.watchdog());
      nextWatchdogNanos = now + o.watchdog().get().pingEvery().toNanos();
    }
  }

  private long waitMillis(Instant now) {
    long wait = TICK.toMillis();
    if (source != null && nextFetchAt != null) {
      wait = Math.min(wait, Math.max(0, Duration.between(now, nextFetchAt).toMillis()));
    }
    if (o.watchdog().isPresent()) {
      wait = Math.min(wait, Math.max(0, (nextWatchdogNanos - System.nanoTime()) / 1_000_000));
    }
    return wait;
  }

  private void stop() {
    phase = AgentStatus.Phase.STOPPING;
    o.notifier().send(Notifications.stopping());
    log.info("stopping (istio.service is left running)");
    Instant now = o.clock().instant();
    AgentStatus last = snapshot(now);
    try {
      statusFile.write(last);
    } catch (IOException e) {
      log.error("cannot write " + statusFile.file() + ": " + e.getMessage());
    }
    if (reporter != null) {
      try {
        reporter.stop(last, REPORT_ON_STOP);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Size, mtime and inode: enough to notice that a file was replaced or edited, for the cost of one stat. */
  record FileStamp(long size, long mtimeNanos, Object inode) {
    static FileStamp of(Path p) {
      try {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return new FileStamp(a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS), a.fileKey());
      } catch (IOException e) {
        return null;
      }
    }
  }

}
