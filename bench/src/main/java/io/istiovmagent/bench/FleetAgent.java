package io.istiovmagent.bench;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.daemon.FleetSchedule;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.report.ObservedReporters;
import io.istiovmagent.report.Reporter;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.Credentials;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.source.HttpsSource;
import io.istiovmagent.source.ObservedSources;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.HealthAssessor;
import io.istiovmagent.status.SidecarState;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.RootCertificate;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.X509TrustManager;
import okhttp3.HttpUrl;

/**
 * One simulated VM: the agent's real {@link Reporter} (its own thread, its own OkHttp client and TLS context, its
 * own heartbeat jitter and backoff), the real bundle fetch ({@link HttpsSource} with a conditional GET) and the
 * daemon's real fetch schedule ({@link FleetSchedule}: refresh policy, token-aware backoff, report confirmations,
 * fetch-now hints), classified by {@link FailureClass}. What is not real: nothing is installed (no files are
 * written), a blocking pool stands in for the daemon's fetch thread, and the status is built here the way the
 * daemon's status view builds it for a managed sidecar: running and ready, or, for P7's flips, dead, restarted and
 * ready again, as the daemon's supervisor shows each ({@link #sidecarDied}).
 */
final class FleetAgent {
  /** What every agent of the fleet shares: the process-wide settings of one simulated VM image. */
  record Shared(HttpUrl bundleUrl, HttpUrl reportUrl, X509TrustManager trust, Credential credential,
      Duration timeout, Duration reportInterval, Duration backoffCap, FleetSchedule.Settings refresh,
      Verifier verifier, Clock clock, ScheduledExecutorService scheduler, Executor blocking, CallRecorder recorder,
      FleetStats stats, String userAgent) {}

  /** What an agent presents, for the bundle fetch and the reporter alike; asked once, when the agent boots. */
  interface Credential {
    Optional<BearerToken> of(int id, HealthReport.Host host) throws SourceConfigException;

    /** The join token as it is, on every request (P5: a directory of bundles, which does not enrol). */
    static Credential joinToken(BearerToken token) {
      return (id, host) -> Optional.of(token);
    }

    /**
     * The daemon's own {@link Credentials}: the join token enrols the VM at its first fetch, and the credential it
     * gets (kept in {@code stateRoot/ID}, as the daemon keeps it in its state directory) is presented from then on
     * (P7: the Kubernetes mode, where a join token only enrols).
     */
    static Credential enrolling(Path joinToken, Path stateRoot) {
      return (id, host) -> Credentials.load(Optional.of(joinToken), stateRoot.resolve(Integer.toString(id)),
          () -> host, QUIET).bearer();
    }
  }

  /**
   * {@link BundleVerifier} once per distinct bundle in a fleet JVM. The verifier is pure (files, policy and clock in,
   * verdict out) and every agent is served the same bytes, so the 10,000 verifications of the ramp would give the
   * same answer 10,000 times; they cost this machine's CPU, which the endpoint needs, and nothing of the endpoint's.
   * A refusal is not cached. In the Kubernetes mode (P7) every VM's bundle is its own (its entry's name, its minted
   * token), so each is verified, and the memory is bounded.
   */
  static final class Verifier {
    private final BundleVerifier verifier;
    private final java.util.concurrent.ConcurrentHashMap<String, VerifiedBundle> verified =
        new java.util.concurrent.ConcurrentHashMap<>();

    Verifier(BundleVerifier verifier) {
      this.verifier = verifier;
    }

    VerifiedBundle verify(io.istiovmagent.bundle.RawBundle raw) throws BadBundleException {
      VerifiedBundle v = verified.get(raw.revision());
      if (v == null) {
        v = verifier.verify(raw);
        if (verified.size() >= 64) {
          verified.clear();
        }
        verified.putIfAbsent(raw.revision(), v);
      }
      return v;
    }
  }

  private static final Log QUIET = new Log(new PrintStream(OutputStream.nullOutputStream()), false);

  private final int id;
  private final Shared shared;
  private final SplittableRandom fetchRandom;
  private final SplittableRandom reportRandom;
  private final SplittableRandom backoffRandom;
  private final Instant startedAt;
  private final HealthReport.Host host;
  private HttpsSource source;
  private volatile Reporter reporter;
  private Optional<BearerToken> credential;

  // The bundle side's state; guarded by this.
  private VerifiedBundle current;
  private Instant fetchedAt;
  private AgentStatus.LastError lastError;
  private final FleetSchedule fetchSchedule;
  private boolean fetching;
  private ScheduledFuture<?> pending;
  private boolean warmStart = true;
  private boolean renewSource;
  /** istio.service as the daemon's status view shows it; guarded by this. */
  private AgentStatus.Sidecar sidecar;

  FleetAgent(int id, Shared shared, SplittableRandom random) {
    this.id = id;
    this.shared = shared;
    this.fetchRandom = random.split();
    this.reportRandom = random.split();
    this.backoffRandom = random.split();
    this.startedAt = shared.clock().instant();
    this.fetchSchedule = new FleetSchedule(shared.refresh(), fetchRandom, startedAt);
    byte[] machineId = new byte[16];
    random.split().nextBytes(machineId);
    this.host = new HealthReport.Host(String.format("vm-%05d", id), HexFormat.of().formatHex(machineId),
        List.of("10." + (id >> 16 & 255) + "." + (id >> 8 & 255) + "." + (id & 255)));
    this.sidecar = running(1000 + id, 0, true);
  }

  /** The machine id it enrols with: its WorkloadEntry is named after it (GROUP-MACHINE-ID). */
  String machineId() {
    return host.machineId();
  }

  /** Boots: the reporter's thread starts, the first fetch goes out at once (as after a first boot). */
  void join() {
    try {
      credential = shared.credential().of(id, host);
    } catch (SourceConfigException e) {
      shared.stats().failed(System.nanoTime(), "join: " + e.getMessage());
      return;
    }
    // Built outside the lock: making an OkHttp client takes OkHttp's process-wide task lock.
    HttpsSource s = newSource();
    Reporter r = ObservedReporters.reporter(shared.reportUrl(), shared.trust(), credential,
        shared.reportInterval(), shared.timeout(), new Backoff(Backoff.DEFAULT_BASE, shared.backoffCap(),
            backoffRandom), reportRandom, host, shared.clock(), QUIET, shared.userAgent(), new Reporter.Hints() {
          @Override
          public void fetchBundleNow() {
            fetchNow();
          }

          @Override
          public void bundleConfirmed(String revision, Instant sentAt) {
            confirmed(revision, sentAt);
          }
        }, shared.recorder());
    synchronized (this) {
      source = s;
      reporter = r;
    }
    r.start();
    fetch();
  }

  private HttpsSource newSource() {
    return ObservedSources.httpsSource(shared.bundleUrl(), shared.trust(), credential,
        shared.timeout(), shared.userAgent(), shared.clock(), shared.recorder());
  }

  /** The reporter's fetchBundleNow hint, as the daemon's FETCH_NOW event. */
  private synchronized void fetchNow() {
    fetchSchedule.fetchNow(shared.clock().instant(), fetching);
    if (!fetching) { // else the fetch under way schedules the next when it ends
      schedule();
    }
  }

  /**
   * A report answer confirmed the bundle, as the daemon's CONFIRMED event: the real ConfirmationPolicy may move
   * the interval refresh (the report URL is the bundle source's origin here).
   */
  private synchronized void confirmed(String revision, Instant sentAt) {
    if (current == null) {
      return;
    }
    if (fetchSchedule.confirmed(shared.clock().instant(), current.revision(), fetching, revision, sentAt)
        .isPresent()) {
      schedule();
    }
  }

  /** Whether a report was delivered at or after {@code t}; never waits for the agent. */
  boolean deliveredSince(Instant t) {
    Reporter r = reporter;
    if (r == null) {
      return false;
    }
    Instant last = r.state().lastDeliveredAt();
    return last != null && !last.isBefore(t);
  }

  // ---- a fetch and what the schedule makes of it, minus the installing ----

  private void fetch() {
    Instant now = shared.clock().instant();
    HttpsSource s;
    Optional<String> ifNoneMatch;
    synchronized (this) {
      if (fetchSchedule.lastCheckedAt() != null || fetchSchedule.failures() > 0) { // not the first fetch
        shared.stats().fetchLag(Math.max(0, Duration.between(fetchSchedule.nextAt(), now).toMillis()));
      }
      if (renewSource) {
        // The first refresh, brought forward by the warm start below: an agent that has run for a while has no
        // pooled connection left by then (OkHttp drops one idle for 5 minutes; refreshes are 10 apart), so a new
        // client, as after a restart. Reusing the first fetch's connection instead would trip on the endpoint
        // having closed it (docs/performance.md, P5), which a running fleet does not see.
        source = newSource();
        renewSource = false;
      }
      s = source;
      ifNoneMatch = current != null ? fetchSchedule.etag() : Optional.empty();
      fetching = true;
    }
    try {
      FetchResult r = s.fetch(ifNoneMatch); // blocking, outside the lock: the hint may arrive meanwhile
      synchronized (this) {
        Instant checkedAt = shared.clock().instant();
        // A fleet that has run for a while has its refreshes spread over the interval; one that booted within the
        // ramp has not. The first schedule is therefore computed from a last success drawn uniformly from the past
        // refresh interval (the schedule is the real one; only its input is shifted). Later ones are the daemon's.
        Instant from = checkedAt;
        if (warmStart) {
          warmStart = false;
          renewSource = true;
          from = checkedAt.minusMillis(fetchRandom.nextLong(shared.refresh().refreshInterval().toMillis()));
        }
        if (r instanceof FetchResult.Fetched f) {
          current = shared.verifier().verify(f.bundle());
          fetchedAt = checkedAt;
          fetchSchedule.fetched(from, checkedAt, f.etag(), current.token());
        } else {
          fetchSchedule.notModified(from, checkedAt, current.token());
        }
        lastError = null;
      }
    } catch (SourceException e) {
      failed(now, FailureClass.of(e), e.retryAfter(), "cannot fetch the bundle: " + e.getMessage());
    } catch (BadBundleException e) {
      failed(now, FailureClass.of(e), Optional.empty(), "bundle refused: " + e.problems().get(0).format()
          + "; the installed bundle stays in force");
    } catch (RuntimeException e) {
      failed(now, FailureClass.TRANSIENT, Optional.empty(), "cannot fetch the bundle: " + e);
    }
    synchronized (this) {
      fetching = false;
      fetchSchedule.ended(shared.clock().instant());
      publish(shared.clock().instant());
      schedule();
    }
  }

  private synchronized void failed(Instant now, FailureClass kind, Optional<Duration> retryAfter, String message) {
    lastError = new AgentStatus.LastError(now, message);
    Optional<Duration> tokenLeft = current == null ? Optional.empty()
        : Optional.of(Duration.between(now, current.token().expiresAt()));
    fetchSchedule.failed(shared.clock().instant(), kind, retryAfter, tokenLeft);
  }

  private void schedule() {
    if (pending != null) {
      pending.cancel(false);
    }
    long ms = Math.max(0, Duration.between(shared.clock().instant(), fetchSchedule.nextAt()).toMillis());
    // The timer only hands the fetch over: a fetch blocks (up to the 30 s timeout, twice) as in the daemon's fetch
    // thread, and must not hold up other agents' fetches. The blocking pool grows with the fetches in flight.
    pending = shared.scheduler().schedule(() -> shared.blocking().execute(this::fetch), ms, TimeUnit.MILLISECONDS);
  }

  // ---- the sidecar, as the daemon's supervisor sees it (SidecarSupervisor.status) ----

  /**
   * A running main process, with Envoy's readiness as last probed (null: not probed yet). The daemon gives a reason
   * only for "not ready" (Readiness.NotReady), none for ready.
   */
  private static AgentStatus.Sidecar running(long pid, long restarts, Boolean ready) {
    return new AgentStatus.Sidecar(true, new SidecarState.Unit("active", "running"), pid, restarts, ready, null,
        false, List.of());
  }

  /**
   * The sidecar's main process died. The daemon watches it (a pidfd): the exit wakes its loop, which asks systemd
   * (istio.service has Restart=always: activating/auto-restart, no main process, one restart more), forgets Envoy's
   * readiness and offers the status to the reporter, which sends it at once (a change of state, not a heartbeat).
   * Returns when the agent saw it (epoch ms, the status's own time), or {@link FlipDelays#NONE} when it reports
   * nothing yet (no bundle, so no sidecar to lose).
   */
  synchronized long sidecarDied() {
    if (current == null || reporter == null) {
      return FlipDelays.NONE;
    }
    sidecar = new AgentStatus.Sidecar(true, new SidecarState.Unit("activating", "auto-restart"), 0,
        sidecar.restarts() + 1, null, null, false, List.of());
    return publish(shared.clock().instant());
  }

  /** systemd started it again: a new main process, which the daemon sees running before it has probed Envoy. */
  synchronized long sidecarRestarted() {
    sidecar = running(1_000_000 + id, sidecar.restarts(), null);
    return publish(shared.clock().instant());
  }

  /** Envoy answered the daemon's readiness probe: ready (so the service puts the VM back in traffic). */
  synchronized long envoyReady() {
    sidecar = running(sidecar.mainPid(), sidecar.restarts(), true);
    return publish(shared.clock().instant());
  }

  // ---- the daemon's status view: a VM reports once it holds a bundle ----

  /** Offers the status as of {@code now} to the reporter; returns {@code now} (epoch ms), or NONE if it has none. */
  private long publish(Instant now) {
    if (current == null || reporter == null) {
      return FlipDelays.NONE;
    }
    AgentStatus.Bundle b = new AgentStatus.Bundle(source.describe(), current.revision(),
        current.raw().configRevision(), fetchedAt,
        fetchSchedule.lastCheckedAt(),
        false, current.token().expiresAt(), current.rootCertificates().stream().map(RootCertificate::notAfter)
            .min(Instant::compareTo).orElse(null), current.namespace(), current.serviceAccount(),
        current.workloadGroup(), current.clusterEnv().nonEmpty("ISTIO_META_CLUSTER_ID"),
        current.clusterEnv().nonEmpty("ISTIO_META_NETWORK"), fetchSchedule.confirmedAt(), null);
    AgentStatus.Sidecar sc = sidecar;
    Reporter.State st = reporter.state();
    AgentStatus.Report rep = new AgentStatus.Report(st.url(), st.lastDeliveredAt(), st.delivered(), st.lastError());
    AgentStatus draft = new AgentStatus(AgentStatus.FORMAT, 1000 + id, "bench", startedAt, now,
        AgentStatus.Phase.RUNNING, AgentStatus.Health.DEGRADED, List.of(), b,
        new AgentStatus.Hosts(current.hosts().size(), 0, null, null), sc, lastError, fetchSchedule.nextAt(), rep);
    HealthAssessor.Assessment a = HealthAssessor.assess(draft, now);
    reporter.offer(new AgentStatus(draft.format(), draft.pid(), draft.version(), startedAt, now, draft.phase(),
        a.health(), a.reasons(), b, draft.hosts(), sc, lastError, fetchSchedule.nextAt(), rep));
    return now.toEpochMilli();
  }
}
