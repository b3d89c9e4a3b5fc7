package io.istiovmagent.onboarding.kube;

import com.fasterxml.jackson.databind.JsonMappingException;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import io.istiovmagent.server.BundleProvider;
import io.istiovmagent.server.Enroller;
import io.istiovmagent.server.Fleet;
import io.istiovmagent.server.HealthSink;
import io.istiovmagent.server.ServerConfigException;
import io.istiovmagent.server.metrics.ServiceMetrics;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;

/** {@code serve --kubernetes}: the bundles made from the cluster the service runs in, or is pointed at. */
public final class KubernetesMode {
  private KubernetesMode() {}

  /** The flags of {@code serve --kubernetes}. */
  public record Options(Optional<Path> kubeconfig, Optional<String> context, String istioNamespace, String revision,
      Optional<String> clusterId, String gatewayNamespace, String gatewayName, Optional<String> gatewayAddress,
      Duration tokenLifetime, Duration cacheTtl) {
    public Options {
      Objects.requireNonNull(kubeconfig, "kubeconfig == null");
      Objects.requireNonNull(context, "context == null");
      Objects.requireNonNull(istioNamespace, "istioNamespace == null");
      Objects.requireNonNull(revision, "revision == null");
      Objects.requireNonNull(clusterId, "clusterId == null");
      Objects.requireNonNull(gatewayNamespace, "gatewayNamespace == null");
      Objects.requireNonNull(gatewayName, "gatewayName == null");
      Objects.requireNonNull(gatewayAddress, "gatewayAddress == null");
      Objects.requireNonNull(tokenLifetime, "tokenLifetime == null");
      Objects.requireNonNull(cacheTtl, "cacheTtl == null");
    }
  }

  /**
   * The fleet's duties (leader election, the silence sweep, the TTL): the service's namespace, this replica's name,
   * the TTL of a silent VM's entry and whether its credential goes with it, the leader Lease's duration.
   */
  public record FleetSettings(String namespace, String replica, Duration vmTtl, boolean revokeAtTtl,
      Duration leaseDuration) {
    /** How often each replica flushes what it heard, and the leader sweeps. */
    static final Duration EVERY = Duration.ofSeconds(10);
  }

  /**
   * What the service gets from the cluster: bundles, the VMs' credentials (enrolment, authentication), where their
   * reports go (WorkloadEntries and their health), and the fleet as those entries show it (GET /v1/vms). Closing the
   * bundles closes the rest.
   */
  public record Cluster(BundleProvider bundles, ClusterCredentials credentials, Enroller enroller,
      HealthSink entries, Fleet fleet) {}

  /**
   * Connects with the kubeconfig given, else as fabric8 finds one: in a pod its service account, else $KUBECONFIG or
   * ~/.kube/config. An API server that does not answer yet is logged, not fatal: bundle requests get 503 until it
   * does.
   */
  public static Cluster connect(Options o, Optional<FleetSettings> fleet, Clock clock, Log log)
      throws ServerConfigException {
    return connect(o, fleet, clock, log, new ServiceMetrics());
  }

  /** As {@link #connect(Options, Optional, Clock, Log)}, counting the API calls and token mints in {@code metrics}. */
  public static Cluster connect(Options o, Optional<FleetSettings> fleet, Clock clock, Log log,
      ServiceMetrics metrics) throws ServerConfigException {
    if (o.tokenLifetime().compareTo(TokenMinter.MIN_LIFETIME) < 0) {
      throw new ServerConfigException("--token-lifetime " + o.tokenLifetime().toSeconds() + "s is shorter than the "
          + "Kubernetes API allows (600s)", null);
    }
    KubernetesClient client = client(o.kubeconfig(), o.context(), -1, Optional.of(metrics));
    try {
      VersionInfo v = client.getKubernetesVersion();
      log.notice("Kubernetes API " + client.getMasterUrl() + ", version "
          + (v == null || v.getGitVersion() == null ? "unknown" : v.getGitVersion()));
    } catch (KubernetesClientException e) {
      log.warn("the Kubernetes API " + client.getMasterUrl() + " does not answer now (" + e.getMessage()
          + "); bundle requests get 503 until it does");
    }
    ClusterReads reads = reads(client, o);
    EntryCache cache = new EntryCache(client, log); // one informer for the writes and the fleet view
    Optional<HeardFrom> heard = fleet.map(f -> new HeardFrom(client, f.namespace(), f.replica(), log));
    EntryRegistry entries = new EntryRegistry(client, reads, cache,
        heard.<EntryRegistry.Heard>map(h -> h::heard).orElse(EntryRegistry.Heard.NONE), clock, log);
    ClusterCredentials credentials = new ClusterCredentials(client, clock, o.cacheTtl(), log).watching();
    Optional<FleetDuties> duties = fleet.map(f -> new FleetDuties(client, cache, entries, heard.get(),
        Optional.of(credentials), new FleetDuties.Settings(f.namespace(), f.replica(), f.vmTtl(), f.revokeAtTtl(),
            f.leaseDuration(), FleetSettings.EVERY, FleetDuties.LISTEN_FIRST), clock, log).start());
    return new Cluster(new KubernetesBundles(reads, new TokenMinter(client, o.tokenLifetime(), metrics), o.cacheTtl(),
        clock,
        log, entries::entryOf, () -> {
          duties.ifPresent(FleetDuties::close); // first: its Lease is released while the client still works
          heard.ifPresent(HeardFrom::close);
          credentials.close();
          entries.close();
          client.close();
        }), credentials, registering(credentials, entries), entries,
        new EntryFleet(cache, entries.leaseCache(), client.getKubernetesSerialization()));
  }

  /** Enrolment that registers the VM's WorkloadEntry at once, before its first bundle names the entry. */
  static Enroller registering(ClusterCredentials credentials, EntryRegistry entries) {
    return new Enroller() {
      @Override
      public Outcome enrol(String namespace, String group, String joinToken, String machineId, String hostname) {
        return enrol(namespace, group, joinToken, machineId, hostname, List.of());
      }

      @Override
      public Outcome enrol(String namespace, String group, String joinToken, String machineId, String hostname,
          List<String> addresses) {
        Outcome o = credentials.enrol(namespace, group, joinToken, machineId, hostname);
        if (o instanceof Outcome.Enrolled) {
          entries.register(namespace, group, machineId, addresses); // or at its first report, if it cannot now
        }
        return o;
      }
    };
  }

  static ClusterReads reads(KubernetesClient client, Options o) {
    return new ClusterReads(client, new ClusterReads.Settings(o.istioNamespace(), o.revision(), o.clusterId(),
        o.gatewayNamespace(), o.gatewayName(), o.gatewayAddress()));
  }

  /** The join tokens and VM credentials of the cluster, for the token and credential commands. */
  public static ClusterCredentials credentials(Optional<Path> kubeconfig, Optional<String> context, Clock clock,
      Log log) throws ServerConfigException {
    return new ClusterCredentials(client(kubeconfig, context), clock, Duration.ZERO, log);
  }

  /**
   * The VMs as the cluster holds them, for the vms command. Someone waits for its answer: an API server that does not
   * answer fails it after one retry, as kubectl does, not after fabric8's ten (about 20 s).
   */
  public static ClusterVms vms(Optional<Path> kubeconfig, Optional<String> context) throws ServerConfigException {
    return new ClusterVms(client(kubeconfig, context, 1, Optional.empty()));
  }

  private static KubernetesClient client(Optional<Path> kubeconfig, Optional<String> context)
      throws ServerConfigException {
    return client(kubeconfig, context, -1, Optional.empty());
  }

  /** {@code retries} below 0 leaves fabric8's default; with {@code metrics}, every request is counted there. */
  private static KubernetesClient client(Optional<Path> kubeconfig, Optional<String> context, int retries,
      Optional<ServiceMetrics> metrics) throws ServerConfigException {
    Config config;
    if (kubeconfig.isPresent()) {
      Path file = kubeconfig.get();
      if (!Files.isRegularFile(file)) {
        throw new ServerConfigException("--kubeconfig " + file + " does not exist or is not a file");
      }
      try {
        config = Config.fromKubeconfig(context.orElse(null), Files.readString(file), file.toString());
      } catch (IOException | RuntimeException e) {
        throw new ServerConfigException("cannot use --kubeconfig " + file + ": " + unreadable(e), e);
      }
    } else {
      if (!inCluster() && System.getenv("KUBECONFIG") == null
          && !Files.isRegularFile(Path.of(System.getProperty("user.home"), ".kube", "config"))) {
        throw new ServerConfigException("no cluster to talk to: run in a pod (its service account is used), or "
            + "give --kubeconfig FILE (or set KUBECONFIG)", null);
      }
      config = Config.autoConfigure(context.orElse(null));
    }
    if (retries >= 0) {
      config.setRequestRetryBackoffLimit(retries);
    }
    return counted(new KubernetesClientBuilder().withConfig(config), metrics).build();
  }

  /** The builder, its HTTP client counting every request in {@code metrics} when given. */
  static KubernetesClientBuilder counted(KubernetesClientBuilder b, Optional<ServiceMetrics> metrics) {
    return metrics.map(m -> b.withHttpClientBuilderConsumer(h -> h.addOrReplaceInterceptor(ApiCallMetrics.NAME,
        new ApiCallMetrics(m)))).orElse(b);
  }

  /**
   * Why a kubeconfig cannot be read, in none of its own words: it holds credentials, and the YAML parser's message
   * quotes the line it stopped at (a token, when the token's line is the broken one), Jackson's the value it could
   * not take.
   */
  private static String unreadable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof MarkedYamlEngineException y) { // fabric8 reads kubeconfigs with snakeyaml-engine
        Optional<Mark> at = y.getProblemMark();
        return "not YAML: " + y.getProblem() + at.map(m -> " at line " + (m.getLine() + 1) + ", column "
            + (m.getColumn() + 1)).orElse("");
      }
      if (t instanceof JsonMappingException j) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference r : j.getPath()) {
          path.append(r.getFieldName() != null ? (path.length() == 0 ? "" : ".") + r.getFieldName()
              : "[" + r.getIndex() + "]");
        }
        return "not a kubeconfig: a value of the wrong type" + (path.length() == 0 ? "" : " at " + path);
      }
    }
    // Anything else (a file that cannot be read, a context that is not there): its first line, no quoted input.
    String m = String.valueOf(e.getMessage());
    return m.lines().findFirst().orElse(m);
  }

  /** Over a client made elsewhere (a test's mock API server); closing the provider closes the client. */
  static KubernetesBundles over(KubernetesClient client, Options o, Clock clock, Log log) {
    return over(client, o, clock, log, KubernetesBundles.NO_ENTRIES);
  }

  static KubernetesBundles over(KubernetesClient client, Options o, Clock clock, Log log,
      KubernetesBundles.EntryNames entries) {
    return over(client, o, clock, log, entries, new ServiceMetrics());
  }

  static KubernetesBundles over(KubernetesClient client, Options o, Clock clock, Log log,
      KubernetesBundles.EntryNames entries, ServiceMetrics metrics) {
    return new KubernetesBundles(reads(client, o), new TokenMinter(client, o.tokenLifetime(), metrics),
        o.cacheTtl(), clock, log, entries, client::close);
  }

  /** As above, reading a group's expired configuration again on {@code refresher}. */
  static KubernetesBundles over(KubernetesClient client, Options o, Clock clock, Log log,
      KubernetesBundles.EntryNames entries, Executor refresher) {
    return new KubernetesBundles(reads(client, o), new TokenMinter(client, o.tokenLifetime(), new ServiceMetrics()),
        o.cacheTtl(), clock, log, entries, client::close, refresher);
  }

  /** What went wrong under a client exception, in words: fabric8's own message names the operation only. */
  public static String cause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage() == null ? root.getClass().getSimpleName()
        : root.getClass().getSimpleName() + ": " + root.getMessage();
    return root == e ? message : message + "; " + e.getMessage();
  }

  private static boolean inCluster() {
    return System.getenv("KUBERNETES_SERVICE_HOST") != null
        && Files.isRegularFile(Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token"));
  }
}
