package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.BundleSource;
import io.istiovmagent.bundle.BundleSources;
import io.istiovmagent.bundle.FetchResult;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.SourceConfigException;
import io.istiovmagent.bundle.SourceException;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.RootCertificate;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * The bundle side of the daemon: restores the last-known-good, fetches and verifies on the refresh schedule,
 * installs, and puts back what someone else changed. Runs on the daemon's loop thread only, except the network
 * part of a fetch: that runs on a thread of its own ({@link BundleFetch}), so a source that stalls for up to twice
 * bundle.timeout never holds up the loop, which must keep pinging the watchdog, repairing files, watching the
 * sidecar and answering SIGTERM meanwhile. Verifying and installing what it brought happens back on the loop. A
 * DNS-only gateway's name is resolved off the loop too: with the fetch, on its thread (so that an install uses fresh
 * addresses), and after a report answer confirmed the bundle, on a lane of its own.
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
  private Listener listener = (report, first, token) -> {};
  private Runnable wake = () -> {};

  private AgentConfig config;
  private BundleVerifier verifier;
  private Installer installer;
  private BundleSource source;
  private String sourceProblem;

  private VerifiedBundle current;
  private String currentSource;
  private boolean fromLastKnownGood;
  private Instant fetchedAt;
  private final FetchSchedule schedule;
  /** The fetch under way, if any: at most one at a time. */
  private BundleFetch inFlight;
  /**
   * A fetch for a configuration replaced while it was under way: its result is dropped, and no fetch starts until
   * it has ended, so two never run at once (a reload in a loop would otherwise pile them up against the source).
   */
  private BundleFetch abandoned;
  private AgentStatus.LastError lastError;

  private List<HostsEntry> hostsEntries = List.of();
  private final DriftRepair drift;
  private String hostsWarning;

  BundleKeeper(RootFs fs, Clock clock, AgentDaemon.Resolver resolver, RandomGenerator random, Log log,
      String userAgent) {
    this.fs = fs;
    this.clock = clock;
    this.gateway = new GatewayAddresses(resolver, log);
    this.log = log;
    this.userAgent = userAgent;
    this.schedule = new FetchSchedule(random, clock.instant());
    this.drift = new DriftRepair(fs, log, clock.instant());
    this.hostsWarning = CloudInitHosts.warning(fs).orElse(null);
    if (hostsWarning != null) {
      log.warn(hostsWarning);
    }
  }

  void setListener(Listener listener) {
    this.listener = listener;
  }

  /** Called (from the fetch's thread) when a fetch has ended, so the loop takes its result at once. */
  void setWake(Runnable wake) {
    this.wake = wake;
    gateway.wakeWith(wake);
  }

  /**
   * Everything the bundle side is built from: the source, its trust and credential (by their stamp, as for the
   * reporter: a rotated join token or CA file is read again), the hosts rules and where the last-known-good lives.
   */
  private record Inputs(AgentConfig.Bundle bundle, AgentConfig.Hosts hosts, String stateDir, FileStamp token,
      FileStamp ca) {
    static Inputs of(AgentConfig c) {
      return new Inputs(c.bundle(), c.hosts(), c.paths().stateDir(), ReporterKeeper.stamp(c.bundle().tokenFile()),
          ReporterKeeper.stamp(c.bundle().caFile()));
    }
  }

  private Inputs inputs;

  /** Whether {@code c} would build the bundle side in force. */
  boolean unchangedFor(AgentConfig c) {
    return Inputs.of(c).equals(inputs);
  }

  /**
   * A configuration at start or on reload: the bundle side is built anew only when its inputs changed (the schedule
   * starts over, a fetch under way is abandoned); else it keeps its schedule, ETag and fetch under way, and fetches
   * at once (conditionally).
   */
  void reconfigure(AgentConfig c) {
    Inputs next = Inputs.of(c);
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
    installer = new Installer(fs, new LastKnownGood(fs.lexical(config.paths().stateDir())), clock);
    source = null;
    sourceProblem = null;
    schedule.reset(config.bundle(), clock.instant());
    // A fetch still under way was for the old configuration: it is interrupted (it ends within twice its timeout at
    // the latest), and nobody looks at its result.
    if (inFlight != null && !inFlight.done()) {
      abandoned = inFlight;
      abandoned.abandon();
      log.debug("a fetch for the previous configuration is still under way; the next one starts when it has ended");
    }
    inFlight = null;
    if (config.bundle().source().isEmpty()) {
      return;
    }
    try {
      source = BundleSources.open(config.bundle().source().get(), new BundleSources.Transport(
          config.bundle().caFile(), config.bundle().tokenFile(), config.bundle().timeout(), userAgent, clock));
    } catch (SourceConfigException e) {
      sourceProblem = "bundle source unusable: " + e.getMessage();
      log.error(sourceProblem);
    }
  }

  /** Restore first: after a reboot the token in tmpfs is gone; put the last-known-good back before the network. */
  void restoreLastKnownGood() {
    LastKnownGood lkg = new LastKnownGood(fs.lexical(config.paths().stateDir()));
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
      GatewayLookup lookup = gateway.needed(b) ? gateway.resolveBeforeLoop(this::resolved) : null;
      install(b, rec.get().source(), "restored last-known-good", lookup);
      fromLastKnownGood = true;
      fetchedAt = rec.get().savedAt();
    } catch (BadBundleException e) {
      log.error("the last-known-good bundle no longer verifies and is not restored: " + e.getMessage());
    } catch (IOException e) {
      log.error("restoring the last-known-good bundle failed: " + e.getMessage());
    }
  }

  boolean hasSource() {
    return source != null;
  }

  boolean installed() {
    return current != null;
  }

  VerifiedBundle current() {
    return current;
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
    return inFlight != null || abandoned != null ? null : nextFetchAt();
  }

  void fetchNow() {
    schedule.fetchNow(clock.instant(), inFlight != null);
  }

  /**
   * A report answer said {@code revision} is the source's current bundle, for a report sent at {@code sentAt} to an
   * endpoint that is ({@code sameOrigin}) or is not at the bundle source's origin. When {@link ConfirmationPolicy}
   * counts it as a check, the interval refresh moves to sentAt + refreshInterval (never past the token's
   * half-life), and a DNS-only gateway is re-resolved, as after a 304. Returns whether it did.
   */
  boolean confirmed(String revision, Instant sentAt, boolean sameOrigin) {
    if (source == null || current == null) {
      return false;
    }
    Optional<RefreshPolicy.Next> next = schedule.onConfirmed(clock.instant(), current.revision(),
        new ConfirmationPolicy.Confirmation(revision, sentAt, sameOrigin), inFlight != null);
    if (next.isEmpty()) {
      return false;
    }
    log.debug("bundle confirmed current by a report answer; next check " + next.get().at() + " ("
        + next.get().reason() + ")");
    if (gateway.needed(current)) {
      gateway.request(this::resolved);
    }
    return true;
  }

  /** A later answer for the gateway's name, on the loop. */
  private void resolved(GatewayLookup lookup) {
    try {
      refreshGatewayHosts(lookup);
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
    if (abandoned != null) {
      if (!abandoned.done()) {
        return false;
      }
      abandoned = null; // its result is for a configuration no longer in force
    }
    if (inFlight != null) {
      if (!inFlight.done()) {
        return false;
      }
      BundleFetch ended = inFlight;
      inFlight = null;
      completed(ended);
      schedule.ended(clock.instant());
      return true;
    }
    if (source != null && !now.isBefore(schedule.nextAt())) {
      inFlight = BundleFetch.start(source, current != null && !fromLastKnownGood ? schedule.etag() : Optional.empty(),
          now, clock,
          wake, gateway.name(), gateway.resolver());
      return true;
    }
    return false;
  }

  private void completed(BundleFetch fetch) {
    Instant now = fetch.startedAt;
    try {
      FetchResult r = fetch.get();
      schedule.checked(fetch.endedAt);
      if (r instanceof FetchResult.Fetched f) {
        VerifiedBundle b = verifier.verify(f.bundle());
        for (Problem w : b.warnings()) {
          log.warn(w.format());
        }
        install(b, source.describe(), "applied", fetch.lookup);
        fetchedAt = schedule.lastCheckedAt();
        fromLastKnownGood = false;
        schedule.onFetched(f.etag(), current.token());
      } else {
        log.debug("bundle unchanged (HTTP 304)");
        refreshGatewayHosts(fetch.lookup);
        schedule.onNotModified(current.token());
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
    lastError = new AgentStatus.LastError(now, message);
    Optional<Duration> tokenLeft = current == null ? Optional.empty()
        : Optional.of(Duration.between(now, current.token().expiresAt()));
    Duration delay = schedule.onFailed(clock.instant(), kind, retryAfter, tokenLeft);
    log.warn(message + " (attempt " + schedule.failures() + ", retrying in " + delay.toSeconds() + "s)");
  }

  private void install(VerifiedBundle b, String from, String verb, GatewayLookup lookup) throws IOException {
    List<HostsEntry> hosts = gateway.entriesFor(b, lookup, hostsEntries);
    InstallReport report = installer.install(b, from, hosts);
    report.warnings().forEach(log::warn);
    boolean first = current == null;
    current = b;
    currentSource = from;
    hostsEntries = hosts;
    drift.stamp();
    if (report.changedAnything() || first) {
      log.info(verb + " bundle " + Installer.shortRevision(b.revision()) + " from " + from + ": "
          + report.changes().stream().filter(c -> c.action() != InstallReport.Action.UNCHANGED)
              .map(c -> c.action().label() + " " + c.path()).reduce((x, y) -> x + ", " + y).orElse("nothing changed"));
    }
    listener.installed(report, first,
        new String(b.raw().files().get(BundleFile.TOKEN), StandardCharsets.US_ASCII).strip());
  }

  /** A DNS-only gateway's addresses can change while the bundle does not: re-resolve on every successful check. */
  private void refreshGatewayHosts(GatewayLookup lookup) throws IOException {
    if (current == null || !gateway.needed(current) || lookup == null) {
      return;
    }
    List<HostsEntry> fresh = gateway.entriesFor(current, lookup, hostsEntries);
    if (!fresh.equals(hostsEntries)) {
      hostsEntries = fresh;
      installer.syncHosts(fresh).ifPresent(r -> log.info("gateway " + gateway.name().get()
          + " resolves differently: " + r.change().detail()));
      drift.stamp();
    }
  }

  /**
   * Puts back what someone else changed in the installed files and the hosts block ({@link DriftRepair}).
   *
   * @return whether it compared the files in full (and so may have repaired something)
   */
  boolean maintain(Instant now) {
    if (current == null) {
      return false;
    }
    try {
      return drift.check(now, installer, current, currentSource, hostsEntries);
    } catch (IOException e) {
      lastError = new AgentStatus.LastError(now, "cannot check installed files: " + e.getMessage());
      log.error(lastError.message());
      return true;
    }
  }

  // --- what the status says ---

  AgentStatus.Bundle bundleStatus() {
    if (current == null) {
      return null;
    }
    return new AgentStatus.Bundle(currentSource, current.revision(), fetchedAt, schedule.lastCheckedAt(),
        fromLastKnownGood, current.token().expiresAt(), current.rootCertificates().stream().map(RootCertificate::notAfter)
            .min(Instant::compareTo).orElse(null), current.namespace(), current.serviceAccount(),
        current.workloadGroup(), current.clusterEnv().nonEmpty("ISTIO_META_CLUSTER_ID"),
        current.clusterEnv().nonEmpty("ISTIO_META_NETWORK"), schedule.confirmedAt());
  }

  AgentStatus.Hosts hostsStatus() {
    return new AgentStatus.Hosts(hostsEntries.size(), drift.hostsRepairs(), drift.lastHostsRepair(), hostsWarning);
  }

  /**
   * An unusable source (nothing is fetched while it lasts, so it is the current problem), else the last fetch or
   * install failure; null when all is well.
   */
  AgentStatus.LastError lastError(Instant now) {
    return sourceProblem != null ? new AgentStatus.LastError(now, sourceProblem) : lastError;
  }
}
