package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.SweepPlan;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The work that must happen once for the whole fleet, on the replica elected with a Kubernetes Lease
 * ({@code istio-vm-onboarding-leader} in the service's namespace): the silence sweep and the TTL deletions
 * ({@link SweepPlan}); and what every replica does for it: flushing what it heard ({@link HeardFrom}). Any replica
 * serves bundles and reports whether it leads or not. {@link #step} runs one round and is what tests drive.
 */
final class FleetDuties implements AutoCloseable {
  static final String LEASE = "istio-vm-onboarding-leader";
  /**
   * How long a replica listens after its start before it judges any VM silent: the agents' report backoff cap
   * (5 minutes) and a flush, so that after an outage of every replica no VM is taken out before it could come back
   * (the fleet benchmark took out 7 % of the VMs at +210 s before this).
   */
  static final Duration LISTEN_FIRST = Duration.ofMinutes(5).plusSeconds(30);
  /** A replica's last-seen record not written for this long belongs to a replica that is gone. */
  static final Duration STALE_RECORD = Duration.ofHours(1);

  /** Where and how: the service's namespace and this replica's name, the TTL, the lease's timing. */
  record Settings(String namespace, String replica, Duration ttl, boolean revokeAtTtl, Duration leaseDuration,
      Duration every, Duration listenFirst) {
    Settings {
      Objects.requireNonNull(namespace, "namespace == null");
      Objects.requireNonNull(replica, "replica == null");
      Objects.requireNonNull(ttl, "ttl == null");
      Objects.requireNonNull(leaseDuration, "leaseDuration == null");
      Objects.requireNonNull(every, "every == null");
      Objects.requireNonNull(listenFirst, "listenFirst == null");
    }

    /** How late a replica's record of what it heard may reach the leader: a flush period, half more, and 1 s. */
    Duration slack() {
      return every.plus(every.dividedBy(2)).plusSeconds(1);
    }
  }

  private final KubernetesClient client;
  private final EntryCache cache;
  private final EntryRegistry entries;
  private final HeardFrom heard;
  private final Optional<ClusterCredentials> credentials;
  private final Settings settings;
  private final Clock clock;
  private final Log log;
  private final AtomicBoolean leading = new AtomicBoolean();
  private final AtomicReference<Instant> listeningSince = new AtomicReference<>();
  private final ScheduledExecutorService timer;
  private volatile CompletableFuture<?> election;

  FleetDuties(KubernetesClient client, EntryCache cache, EntryRegistry entries, HeardFrom heard,
      Optional<ClusterCredentials> credentials, Settings settings, Clock clock, Log log) {
    this.client = client;
    this.cache = cache;
    this.entries = entries;
    this.heard = heard;
    this.credentials = credentials;
    this.settings = settings;
    this.clock = clock;
    this.log = log;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "fleet-duties");
      t.setDaemon(true);
      return t;
    });
  }

  /** Stands for election and runs {@link #step} every {@code every}. */
  FleetDuties start() {
    Duration lease = settings.leaseDuration();
    election = client.leaderElector().withConfig(new LeaderElectionConfigBuilder().withName(LEASE)
        .withLeaseDuration(lease).withRenewDeadline(lease.multipliedBy(2).dividedBy(3))
        .withRetryPeriod(lease.dividedBy(8)).withReleaseOnCancel(true)
        .withLock(new LeaseLock(settings.namespace(), LEASE, settings.replica()))
        .withLeaderCallbacks(new LeaderCallbacks(() -> {
          leading.set(true);
          log.notice("replica " + settings.replica() + " leads: it sweeps the fleet for silent VMs");
        }, () -> {
          if (leading.getAndSet(false)) {
            log.notice("replica " + settings.replica() + " no longer leads");
          }
        }, leader -> log.info("the fleet's leader is " + leader))).build()).build().start();
    long every = settings.every().toMillis();
    timer.scheduleWithFixedDelay(() -> {
      try {
        step(clock.instant());
      } catch (RuntimeException e) {
        log.warn("the fleet's duties failed this round (tried again in " + settings.every().toSeconds() + " s): "
            + e);
      }
    }, every, every, TimeUnit.MILLISECONDS);
    return this;
  }

  boolean leading() {
    return leading.get();
  }

  /** One round: flush what this replica heard; if it leads, sweep. */
  void step(Instant now) {
    heard.flush(now);
    if (heard.listening() && cache.synced()) {
      listeningSince.compareAndSet(null, now);
    }
    if (!leading.get() || listeningSince.get() == null) {
      return;
    }
    Map<String, GenericKubernetesResource> byKey = new HashMap<>();
    List<SweepPlan.Entry> fleet = new ArrayList<>();
    for (GenericKubernetesResource e : cache.all()) {
      Map<String, String> labels = e.getMetadata().getLabels();
      String machine = labels == null ? null : labels.get(EntryPlan.MACHINE_LABEL);
      SweepPlan.Entry entry = new SweepPlan.Entry(e.getMetadata().getNamespace(), e.getMetadata().getName(),
          machine, created(e), EntryRegistry.conditions(e));
      byKey.put(entry.key(), e);
      fleet.add(entry);
    }
    for (SweepPlan.Action a : SweepPlan.plan(fleet, heard.latest(), listeningSince.get(), settings.listenFirst(),
        settings.slack(),
        settings.ttl(), now)) {
      GenericKubernetesResource resource = byKey.get(a.entry().key());
      if (a instanceof SweepPlan.Action.MarkSilent s) {
        if (entries.writeIfUnchanged(resource, s.conditions())) {
          log.notice("machine " + s.entry().machineId() + " (" + s.entry().key() + ") is silent since "
              + s.lastSeen() + ": out of traffic");
        }
      } else if (a instanceof SweepPlan.Action.Delete d) {
        if (entries.delete(d.entry().namespace(), d.entry().name())) {
          heard.forget(d.entry().key());
          log.notice("deleted WorkloadEntry " + d.entry().key() + ": silent since " + d.lastSeen() + ", longer than "
              + "the TTL (" + settings.ttl().toHours() + " h)");
          if (settings.revokeAtTtl() && d.entry().machineId() != null && credentials.isPresent()) {
            revoke(d.entry().namespace(), d.entry().machineId());
          }
        }
      }
    }
    heard.deleteStale(now.minus(STALE_RECORD));
  }

  private void revoke(String namespace, String machineId) {
    try {
      if (credentials.get().revokeCredential(namespace, machineId)) {
        log.notice("revoked the credential of machine " + machineId + " in " + namespace + " with its entry");
      }
    } catch (KubernetesClientException e) {
      log.warn("cannot revoke the credential of machine " + machineId + " in " + namespace + ": "
          + KubernetesMode.cause(e));
    }
  }

  private static Instant created(GenericKubernetesResource e) {
    try {
      String t = e.getMetadata().getCreationTimestamp();
      return t == null ? null : Instant.parse(t);
    } catch (DateTimeParseException x) {
      return null;
    }
  }

  /** Stops sweeping and gives up the lease, so that another replica takes over at once. */
  @Override
  public void close() {
    timer.shutdownNow();
    CompletableFuture<?> e = election;
    if (e != null) {
      e.cancel(true);
    }
    leading.set(false);
  }
}
