package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.source.BundleSource;
import io.istiovmagent.source.BundleSources;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The bundle side of the daemon: restores the last-known-good, fetches and verifies on the refresh schedule,
 * installs ({@link InstalledBundle}), and puts back what someone else changed. Runs on the daemon's loop thread
 * only, except the network part of a fetch ({@link FetchRunner}); verifying and installing what it brought happens
 * back on the loop. A DNS-only gateway's name is resolved off the loop too: with the fetch (so that an install uses
 * fresh addresses), and after a report answer confirmed the bundle, on a lane of its own.
 */
final class BundleKeeper {

  /** Told after every install, for the sidecar's sake (first start, restart on a configuration change). */
  interface Listener {
    void installed(InstallReport report, boolean first, String token);
  }

  private final RootFs fs;
  private final Clock clock;
  private final GatewayAddresses gateway;
  private final Log log;
  private final String userAgent;

  private AgentConfig config;
  private BundleVerifier verifier;
  private BundleSource source;
  private String sourceProblem;

  private final InstalledBundle disk;
  private boolean fromLastKnownGood;
  private Instant fetchedAt;
  private final FetchSchedule schedule;
  private final FetchRunner fetches;
  private AgentStatus.LastError lastError;
  /** Fetches (or installs) that failed since the daemon started, by class: for the metrics. */
  private final Map<FailureClass, Long> fetchFailures = new EnumMap<>(FailureClass.class);

  private final StartupTimeline timeline;
  private final CredentialsKeeper credentials;
  private final TrustKeeper trust;

  /** What the VM presents to an https source; null for a local one. */
  private String credentialState() {
    if (config == null || config.bundle().source().filter(s -> s.strip().startsWith("https://")).isEmpty()) {
      return null;
    }
    return credentials.of(config).enrolled() ? AgentStatus.Bundle.ENROLLED : AgentStatus.Bundle.JOIN_TOKEN;
  }

  BundleKeeper(RootFs fs, Clock clock, AgentDaemon.Resolver resolver, RandomGenerator random, Log log,
      String userAgent, StartupTimeline timeline, CredentialsKeeper credentials, TrustKeeper trust) {
    this.credentials = credentials;
    this.trust = trust;
    this.timeline = timeline;
    this.fs = fs;
    this.clock = clock;
    this.gateway = new GatewayAddresses(resolver, log);
    this.log = log;
    this.userAgent = userAgent;
    this.schedule = new FetchSchedule(random, clock.instant());
    this.fetches = new FetchRunner(clock, log);
    this.disk = new InstalledBundle(fs, gateway, log, clock.instant());
  }

  void setListener(Listener listener) {
    disk.setListener(listener);
  }

  /** Called (from the fetch's thread) when a fetch has ended, so the loop takes its result at once. */
  void setWake(Runnable wake) {
    fetches.wakeWith(wake);
    gateway.wakeWith(wake);
  }

  private BundleInputs inputs;

  /** Whether {@code c} would build the bundle side in force. */
  boolean unchangedFor(AgentConfig c) {
    return BundleInputs.of(c, fs).equals(inputs);
  }

  /**
   * A configuration at start or on reload: the bundle side is built anew only when its inputs changed (the schedule
   * starts over, a fetch under way is abandoned); else it keeps its schedule, ETag and fetch under way, and fetches
   * at once (conditionally).
   */
  void reconfigure(AgentConfig c) {
    BundleInputs next = BundleInputs.of(c, fs);
    if (next.equals(inputs)) {
      fetchNow();
      return;
    }
    inputs = next;
    configure(c);
  }

  /** Takes a (new) configuration; what is installed stays in force. The next fetch is due at once. */
  void configure(AgentConfig config) {
    this.config = config;
    gateway.configure(config.hosts());
    verifier = new BundleVerifier(clock, new HashSet<>(config.hosts().allowedNames()));
    disk.use(new Installer(fs, new LastKnownGood(fs.lexical(config.paths().stateDir())), clock));
    source = null;
    sourceProblem = null;
    schedule.reset(config.bundle(), clock.instant());
    fetches.abandon(); // it was for the old configuration
    if (config.bundle().source().isEmpty()) {
      return;
    }
    try {
      source = BundleSources.open(config.bundle().source().get(), new BundleSources.Transport(
          () -> trust.of(config), config.bundle().tokenFile(), config.bundle().timeout(), userAgent, clock,
          timeline.handshakeListener(), Optional.of(credentials.of(config))));
    } catch (SourceConfigException e) {
      sourceProblem = "bundle source unusable: " + e.getMessage();
      log.error(sourceProblem);
    }
  }

  /** Restore first: after a reboot the token in tmpfs is gone; put the last-known-good back before the network. */
  void restoreLastKnownGood() {
    Optional<LastGoodRestore> lkg = LastGoodRestore.load(fs, config.paths().stateDir(), verifier, log);
    if (lkg.isEmpty()) {
      return;
    }
    VerifiedBundle b = lkg.get().bundle();
    try {
      GatewayLookup lookup = gateway.needed(b) ? gateway.resolveBeforeLoop(this::resolved) : null;
      disk.install(b, lkg.get().source(), "restored last-known-good", lookup);
      fromLastKnownGood = true;
      fetchedAt = lkg.get().savedAt();
    } catch (IOException e) {
      log.error("restoring the last-known-good bundle failed: " + e.getMessage());
    }
  }

  boolean hasSource() {
    return source != null;
  }

  boolean installed() {
    return current() != null;
  }

  VerifiedBundle current() {
    return disk.current();
  }

  boolean fromLastKnownGood() {
    return fromLastKnownGood;
  }

  /** When the next fetch is due; null without a usable source. */
  Instant nextFetchAt() {
    return source == null ? null : schedule.nextAt();
  }

  /**
   * When the loop must next wake for the bundle's sake: when the next fetch is due; null without a usable source or
   * while a fetch is under way (its end wakes the loop).
   */
  Instant wakeAt() {
    return fetches.busy() ? null : nextFetchAt();
  }

  void fetchNow() {
    schedule.fetchNow(clock.instant(), fetches.busy());
  }

  /**
   * A report answer said {@code revision} is the source's current bundle, for a report sent at {@code sentAt} to an
   * endpoint that is ({@code sameOrigin}) or is not at the bundle source's origin. When {@link ConfirmationPolicy}
   * counts it as a check, the interval refresh moves to sentAt + refreshInterval (never past the token's
   * half-life), and a DNS-only gateway is re-resolved, as after a 304. Returns whether it did.
   */
  boolean confirmed(String revision, Instant sentAt, boolean sameOrigin) {
    if (source == null || current() == null) {
      return false;
    }
    Optional<RefreshPolicy.Next> next = schedule.onConfirmed(clock.instant(), current().revision(),
        new ConfirmationPolicy.Confirmation(revision, sentAt, sameOrigin), fetches.busy());
    if (next.isEmpty()) {
      return false;
    }
    log.debug("bundle confirmed current by a report answer; next check " + next.get().at() + " ("
        + next.get().reason() + ")");
    if (gateway.needed(current())) {
      gateway.request(this::resolved);
    }
    return true;
  }

  /** A later answer for the gateway's name, on the loop. */
  private void resolved(GatewayLookup lookup) {
    try {
      disk.refreshGatewayHosts(lookup);
    } catch (IOException e) {
      lastError = new AgentStatus.LastError(clock.instant(), "cannot update the gateway's hosts entries: "
          + e.getMessage());
      log.error(lastError.message());
    }
  }

  String describeSource() {
    return source == null ? null : source.describe();
  }

  /**
   * Takes the result of a fetch that has ended, else starts one when it is due. Returns whether it did either (the
   * status may have changed).
   */
  boolean fetchIfDue(Instant now) {
    boolean resolved = gateway.takeFinished();
    return takeOrStartFetch(now) || resolved;
  }

  private boolean takeOrStartFetch(Instant now) {
    Optional<FetchRunner.Outcome> ended = fetches.takeEnded();
    if (ended.isPresent()) {
      completed(ended.get());
      schedule.ended(clock.instant());
      return true;
    }
    if (!fetches.busy() && source != null && !now.isBefore(schedule.nextAt())) {
      Optional<String> etag = installed() && !fromLastKnownGood ? schedule.etag() : Optional.empty();
      fetches.start(source, etag, gateway.name(), gateway.resolver());
      return true;
    }
    return false;
  }

  private void completed(FetchRunner.Outcome fetch) {
    Instant now = fetch.startedAt();
    try {
      timeline.took(StartupTimeline.FETCH, Duration.between(fetch.startedAt(), fetch.endedAt()).toNanos());
      FetchResult r = fetch.get();
      schedule.checked(fetch.endedAt());
      if (r instanceof FetchResult.Fetched f) {
        long t0 = System.nanoTime();
        VerifiedBundle b = verifier.verify(f.bundle());
        long t1 = System.nanoTime();
        timeline.took("verify", t1 - t0);
        for (Problem w : b.warnings()) {
          log.warn(w.format());
        }
        disk.install(b, source.describe(), "applied", fetch.lookup());
        timeline.took("plan and install", System.nanoTime() - t1);
        fetchedAt = schedule.lastCheckedAt();
        fromLastKnownGood = false;
        schedule.onFetched(f.etag(), current().token());
      } else {
        log.debug("bundle unchanged (HTTP 304)");
        disk.refreshGatewayHosts(fetch.lookup());
        schedule.onNotModified(current().token());
      }
      lastError = null;
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
    } catch (RuntimeException e) {
      // A bug here or in the source: counted as a failed fetch, so the next one waits for the backoff instead of
      // starting on the loop's next pass and hitting the same bug every second.
      failed(now, FailureClass.TRANSIENT, Optional.empty(), "internal error: " + StepGuard.describe(e)
          + " (fetching the bundle; please report this bug)");
    }
  }

  private void failed(Instant now, FailureClass kind, Optional<Duration> retryAfter, String message) {
    fetchFailures.merge(kind, 1L, Long::sum);
    lastError = new AgentStatus.LastError(now, message);
    Optional<Duration> tokenLeft = current() == null ? Optional.empty()
        : Optional.of(Duration.between(now, current().token().expiresAt()));
    Duration delay = schedule.onFailed(clock.instant(), kind, retryAfter, tokenLeft);
    log.warn(message + " (attempt " + schedule.failures() + ", retrying in " + delay.toSeconds() + "s)");
  }

  /**
   * Puts back what someone else changed in the installed files and the hosts block ({@link DriftRepair}).
   *
   * @return whether it compared the files in full (and so may have repaired something)
   */
  boolean maintain(Instant now) {
    try {
      return disk.checkDrift(now);
    } catch (IOException e) {
      lastError = new AgentStatus.LastError(now, "cannot check installed files: " + e.getMessage());
      log.error(lastError.message());
      return true;
    }
  }

  // --- what the status says ---

  AgentStatus.Bundle bundleStatus() {
    return installed() ? StatusView.bundle(current(), disk.source(), fetchedAt, fromLastKnownGood, schedule,
        credentialState()) : null;
  }

  /** The failed fetches since the daemon started, by class (a class never seen is absent). */
  Map<FailureClass, Long> fetchFailures() {
    return Map.copyOf(fetchFailures);
  }

  AgentStatus.Hosts hostsStatus() {
    return disk.hostsStatus();
  }

  /** Ends a fetch under way (it must not outlive the daemon) and its thread. */
  void close() {
    fetches.close();
  }

  /**
   * An unusable source (nothing is fetched while it lasts, so it is the current problem), else the last fetch or
   * install failure; null when all is well.
   */
  AgentStatus.LastError lastError(Instant now) {
    return sourceProblem != null ? new AgentStatus.LastError(now, sourceProblem) : lastError;
  }
}
