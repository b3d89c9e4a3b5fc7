package io.istiovmagent.onboarding.kube;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.onboarding.generate.BundleGenerator;
import io.istiovmagent.onboarding.generate.InvalidInputException;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.protocol.Revisions;
import io.istiovmagent.server.BundleProvider;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.TokenClaims;
import io.istiovmagent.verify.VerifiedBundle;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Bundles made from the cluster, as istioctl makes them, with a token minted for every bundle served. What is read
 * from the cluster (everything but the token) is kept for a short time per group, so the reports of a fleet and its
 * conditional refreshes cost the API server one set of reads per group and period; a token is minted only for a
 * response that carries one. A bundle that would not pass the agent's own verification is never served.
 *
 * <p>A group's configuration older than the cache's time is read again off the request path: requests go on with the
 * one they have while one read runs, so no report or fetch waits for the API server's answers (at 10,000 VMs, the
 * reports that waited for that read every 10 s were the endpoint's slowest percent). Only a group not read yet, or
 * one whose read is more than a cache time late ({@link #STALE_LIMIT} times the cache's time old), waits for it.
 */
final class KubernetesBundles implements BundleProvider {
  /** How soon a VM should ask again when the cluster cannot make its bundle. */
  static final long RETRY_SECONDS = 15;
  /** How many cache times old a configuration may be served while its read runs; older, requests wait for it. */
  static final int STALE_LIMIT = 2;

  /** The configuration of a group, all but the token (its files with an empty one), or why it cannot be made. */
  private record Config(Instant readAt, ClusterReads.Inputs inputs, Map<BundleFile, byte[]> files,
      String configRevision, List<String> warnings, ClusterReads.Problem problem) {}

  /** One VM's configuration: its group's, naming its WorkloadEntry when it has one. */
  private record Variant(Map<BundleFile, byte[]> files, String configRevision) {}

  /** The name of a VM's WorkloadEntry, when the service registered one: (namespace, group, machine id). */
  interface EntryNames {
    Optional<String> entryOf(String namespace, String group, String machineId);
  }

  /** For a service that registers no entries. */
  static final EntryNames NO_ENTRIES = (namespace, group, machineId) -> Optional.empty();

  private final ClusterReads reads;
  private final TokenMinter minter;
  private final Clock clock;
  private final Log log;
  private final Duration cacheTtl;
  private final Map<String, Config> configs = new ConcurrentHashMap<>();
  /** The last problem logged per group, so that a failing group is logged when it changes, not per request. */
  private final Map<String, String> reported = new ConcurrentHashMap<>();
  /** The groups whose configuration is being read again in the background. */
  private final Set<String> refreshing = ConcurrentHashMap.newKeySet();
  private final Executor refresher;
  private final EntryNames entries;
  private final Runnable onClose;

  KubernetesBundles(ClusterReads reads, TokenMinter minter, Duration cacheTtl, Clock clock, Log log,
      EntryNames entries, Runnable onClose) {
    this(reads, minter, cacheTtl, clock, log, entries, onClose, refresher());
  }

  /** As above, reading expired configurations again on {@code refresher}. */
  KubernetesBundles(ClusterReads reads, TokenMinter minter, Duration cacheTtl, Clock clock, Log log,
      EntryNames entries, Runnable onClose, Executor refresher) {
    this.refresher = refresher;
    this.entries = entries;
    this.onClose = onClose;
    this.reads = reads;
    this.minter = minter;
    this.cacheTtl = cacheTtl;
    this.clock = clock;
    this.log = log;
  }

  @Override
  public Lookup lookup(String namespace, String group, List<String> ifNoneMatch) {
    return lookup(namespace, group, Optional.empty(), ifNoneMatch);
  }

  @Override
  public Lookup lookup(String namespace, String group, Optional<String> machineId, List<String> ifNoneMatch) {
    String key = namespace + "/" + group;
    Config c = config(namespace, group);
    if (c.problem() != null) {
      return c.problem().missing() ? new Lookup.Missing(c.problem().getMessage())
          : new Lookup.Unavailable(c.problem().getMessage(), RETRY_SECONDS);
    }
    Variant v = variant(c, namespace, group, machineId);
    Instant now = clock.instant();
    Optional<String> fresh = MintedEtag.fresh(ifNoneMatch, v.configRevision(), now);
    if (fresh.isPresent()) {
      return new Lookup.NotModified(fresh.get());
    }
    try {
      byte[] token = minter.mint(namespace, c.inputs().group().template().serviceAccount());
      Map<BundleFile, byte[]> files = new EnumMap<>(v.files());
      files.put(BundleFile.TOKEN, token);
      VerifiedBundle verified = new BundleVerifier(clock, Set.of()).verify(new RawBundle(files));
      TokenClaims claims = verified.token();
      Instant issued = claims.issuedAt() != null ? claims.issuedAt()
          : claims.notBefore() != null ? claims.notBefore() : now;
      return new Lookup.Found(MintedEtag.of(verified.raw().configRevision(), issued, claims.expiresAt()),
          TarGzWriter.write(files));
    } catch (ClusterReads.Problem p) {
      report(key, p.getMessage());
      return new Lookup.Unavailable(p.getMessage(), RETRY_SECONDS);
    } catch (BadBundleException e) {
      String why = "the bundle made for " + key + " would not pass the agent's verification: "
          + e.problems().stream().map(Problem::format).collect(Collectors.joining("; "));
      report(key, why);
      return new Lookup.Unavailable(why, RETRY_SECONDS);
    }
  }

  /** The VM's own configuration when its WorkloadEntry is the service's, so that istiod adopts the entry. */
  private Variant variant(Config c, String namespace, String group, Optional<String> machineId) {
    Optional<String> entry = machineId.flatMap(m -> entries.entryOf(namespace, group, m));
    if (entry.isEmpty()) {
      return new Variant(c.files(), c.configRevision());
    }
    Map<BundleFile, byte[]> files = BundleGenerator.forEntry(c.files(), entry.get());
    return new Variant(files, new RawBundle(files).configRevision());
  }

  /**
   * Compares the configuration revision the agent holds (all but its token) with the group's: a freshly minted token
   * is not a reason to fetch, so the whole revision cannot be compared. An agent that names no configuration
   * revision (older than protocol 1's {@code bundle.configRevision}) gets no hint.
   */
  @Override
  public Optional<Boolean> changed(String namespace, String group, HealthReport.Bundle has) {
    return changed(namespace, group, Optional.empty(), has);
  }

  @Override
  public Optional<Boolean> changed(String namespace, String group, Optional<String> machineId,
      HealthReport.Bundle has) {
    Config c = config(namespace, group);
    if (c.problem() != null) {
      return Optional.empty();
    }
    if (has == null) {
      return Optional.of(true);
    }
    return has.configRevision() == null ? Optional.empty()
        : Optional.of(!Revisions.same(has.configRevision(), variant(c, namespace, group, machineId)
            .configRevision()));
  }

  @Override
  public String describe() {
    ClusterReads.Settings s = reads.settings();
    return "bundles from the cluster (istio namespace " + s.istioNamespace()
        + (s.revisioned() ? ", revision " + s.revision() : "") + ", tokens minted for each bundle)";
  }

  @Override
  public Map<String, String> problems() {
    return new TreeMap<>(reported);
  }

  @Override
  public void close() {
    if (refresher instanceof ExecutorService e) {
      e.shutdownNow();
    }
    onClose.run();
  }

  /** Two daemon threads, so that a slow group delays another's read by at most one. */
  private static ExecutorService refresher() {
    ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "bundle-config-read");
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  private Config config(String namespace, String group) {
    String key = namespace + "/" + group;
    Instant now = clock.instant();
    Config cached = configs.get(key);
    if (cached == null || now.isBefore(cached.readAt())) {
      return read(key, namespace, group, cached);
    }
    Duration age = Duration.between(cached.readAt(), now);
    if (age.compareTo(cacheTtl) < 0) {
      return cached;
    }
    if (age.compareTo(cacheTtl.multipliedBy(STALE_LIMIT)) >= 0) {
      return read(key, namespace, group, cached);
    }
    if (refreshing.add(key)) {
      try {
        refresher.execute(() -> {
          try {
            read(key, namespace, group, cached);
          } finally {
            refreshing.remove(key);
          }
        });
      } catch (RejectedExecutionException e) { // closed
        refreshing.remove(key);
      }
    }
    return configs.get(key); // the new one if the read was done at once, else the one in use
  }

  /**
   * Reads the group's configuration unless another read replaced {@code cached} meanwhile. One read per group at a
   * time: concurrent callers for the group wait for it and share its outcome.
   */
  private Config read(String key, String namespace, String group, Config cached) {
    return configs.compute(key, (k, old) -> {
      if (old != null && old != cached) {
        return old; // another request read it meanwhile
      }
      Config fresh = read(namespace, group, clock.instant());
      if (fresh.problem() != null) {
        report(key, fresh.problem().getMessage());
      } else {
        if (reported.remove(key) != null) {
          log.notice("the bundle for " + key + " can be made again");
        }
        if (old == null || old.configRevision() == null || !old.configRevision().equals(fresh.configRevision())) {
          log.info("bundle for " + key + " now at configuration " + fresh.configRevision());
          fresh.warnings().forEach(w -> log.warn("bundle for " + key + ": " + w));
        }
      }
      return fresh;
    });
  }

  private Config read(String namespace, String group, Instant now) {
    try {
      ClusterReads.Inputs inputs = reads.read(namespace, group);
      BundleGenerator.Generated g = generate(inputs, new byte[0]);
      return new Config(now, inputs, g.files(), new RawBundle(g.files()).configRevision(), g.warnings(), null);
    } catch (ClusterReads.Problem p) {
      return new Config(now, null, null, null, List.of(), p);
    } catch (InvalidInputException e) {
      return new Config(now, null, null, null, List.of(), new ClusterReads.Problem(false, "the bundle for " + namespace
          + "/" + group + " cannot be made: " + e.getMessage()));
    }
  }

  private BundleGenerator.Generated generate(ClusterReads.Inputs in, byte[] token) throws InvalidInputException {
    ClusterReads.Settings s = reads.settings();
    return BundleGenerator.generate(new BundleGenerator.Request(in.group(), in.meshConfig(), in.clusterId(),
        s.revision(), s.istioNamespace(), in.rootCert(), token, in.gatewayAddress(), Optional.empty(),
        Optional.empty(), "istiod".equals(in.group().annotations().get(EntryPlan.REGISTRATION)), true));
  }

  private void report(String key, String problem) {
    if (!problem.equals(reported.put(key, problem))) {
      log.warn("cannot make the bundle for " + key + ": " + problem);
    }
  }
}
