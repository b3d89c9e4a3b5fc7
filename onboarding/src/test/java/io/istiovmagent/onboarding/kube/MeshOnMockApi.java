package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.ManualClock;
import io.istiovmagent.testing.Repo;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A mesh as istioctl's own test sets it up (namespace bar, group foo, service account vm-serviceaccount, revision
 * rev-1, cluster id Kubernetes), put into fabric8's mock API server in CRUD mode, with what the mock cannot do itself
 * stubbed: TokenRequest. Each minted token is a fresh service-account-shaped JWT, counted.
 */
public final class MeshOnMockApi implements AutoCloseable {
  static final Path CASES = Repo.root().resolve("onboarding/src/test/resources/istioctl-cases");
  static final String NS = "bar";
  static final String GROUP = "foo";
  static final String SA = "vm-serviceaccount";
  static final String TOKEN_PATH = "/api/v1/namespaces/" + NS + "/serviceaccounts/" + SA + "/token";
  static final Instant START = Instant.parse("2026-12-07T10:00:00Z");

  final KubernetesMockServer server;
  final KubernetesClient client;
  final ManualClock clock = new ManualClock(START);
  /** When tokens are minted and the service's clock: the manual one, or the system's for a real agent. */
  private final Clock now;
  final AtomicInteger minted = new AtomicInteger();
  private boolean ownsServer;
  final byte[] rootCert;
  private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
  final Log log = new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), false);

  MeshOnMockApi(KubernetesMockServer server, KubernetesClient client) {
    this(server, client, null);
  }

  /**
   * For a real agent, outside the JUnit extension: a mock API server of its own in CRUD mode (HTTPS), tokens
   * minted at the system's time; {@link #close()} stops it.
   */
  public static MeshOnMockApi startInRealTime() {
    return startInRealTime(UnaryOperator.identity());
  }

  /**
   * As {@link #startInRealTime()}, with every request handed to the dispatcher {@code around} makes of the mock's
   * own (the fleet benchmark, bench/, counts the API requests so). It must pass on what the mock's is besides a
   * dispatcher ({@code CustomResourceAware}) for {@link #istioctlCase()}.
   */
  public static MeshOnMockApi startInRealTime(UnaryOperator<Dispatcher> around) {
    Map<ServerRequest, Queue<ServerResponse>> expectations = new HashMap<>();
    KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), expectations,
        around.apply(new KubernetesMixedDispatcher(expectations)), true);
    server.init();
    MeshOnMockApi mesh = new MeshOnMockApi(server, server.createClient(), Clock.systemUTC());
    mesh.ownsServer = true;
    return mesh;
  }

  @Override
  public void close() {
    if (ownsServer) {
      client.close();
      server.destroy();
    }
  }

  private MeshOnMockApi(KubernetesMockServer server, KubernetesClient client, Clock now) {
    this.server = server;
    this.client = client;
    this.now = now != null ? now : clock;
    this.rootCert = SampleBundle.generate(spec(), this.now.instant()).get(BundleFile.ROOT_CERT);
  }

  /** The mock API server itself: its address, and its log of requests (which a long run must drain). */
  public KubernetesMockServer server() {
    return server;
  }

  public int minted() {
    return minted.get();
  }

  /**
   * A kubeconfig for the mock API server, as an operator's would be (its certificate is not checked: the mock's is
   * made up at every start), for {@code serve --kubernetes --kubeconfig}.
   */
  public Path kubeconfig(Path dir) throws IOException {
    return Files.writeString(dir.resolve("kubeconfig"), "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n"
        + "  cluster:\n    server: " + client.getMasterUrl() + "\n    insecure-skip-tls-verify: true\n"
        + "contexts:\n- name: mock\n  context:\n    cluster: mock\n    user: test\n    namespace: default\n"
        + "current-context: mock\nusers:\n- name: test\n  user:\n    token: not-checked-by-the-mock\n");
  }

  /** The options of {@code serve --kubernetes} for istioctl's case, with the kubeconfig given. */
  public static KubernetesMode.Options options(Optional<Path> kubeconfig) {
    return new KubernetesMode.Options(kubeconfig, Optional.empty(), "istio-system", "rev-1", Optional.empty(),
        "istio-system", "istio-eastwestgateway", Optional.empty(), Duration.ofHours(1), Duration.ofSeconds(10));
  }

  static SampleBundle.Spec spec() {
    SampleBundle.Spec d = SampleBundle.Spec.defaults();
    return new SampleBundle.Spec(NS, SA, GROUP, d.trustDomain(), d.istiodAddress(), Duration.ofHours(1),
        d.caLifetime());
  }

  static ResourceDefinitionContext groups(String version) {
    return new ResourceDefinitionContext.Builder().withGroup("networking.istio.io").withVersion(version)
        .withKind("WorkloadGroup").withPlural("workloadgroups").withNamespaced(true).build();
  }

  /** The ipv4 case's group, mesh config and gateway IP, as the cluster holds them. */
  public MeshOnMockApi istioctlCase() throws IOException {
    for (String[] kind : new String[][] {{"WorkloadGroup", "workloadgroups"}, {"WorkloadEntry", "workloadentries"}}) {
      // Known to the mock with a status subresource: /status writes behave as a real API server's.
      server.expectCustomResource(new CustomResourceDefinitionContext.Builder().withGroup("networking.istio.io")
          .withVersion("v1").withKind(kind[0]).withPlural(kind[1]).withScope("Namespaced")
          .withStatusSubresource(true).build());
    }
    workloadGroup("v1", Files.readString(CASES.resolve("ipv4/workloadgroup.yaml")));
    configMap("istio-system", "istio-rev-1", "mesh", Files.readString(CASES.resolve("ipv4/meshconfig.yaml")));
    configMap("istio-system", "istio-sidecar-injector-rev-1", "values",
        "{\"global\":{\"multiCluster\":{\"clusterName\":\"\"},\"network\":\"\"}}");
    configMap(NS, "istio-ca-root-cert", "root-cert.pem", new String(rootCert, StandardCharsets.US_ASCII));
    gateway("istio-system", "istio-eastwestgateway", Map.of(), "10.10.10.11", null);
    mintTokens(Duration.ofHours(1));
    return this;
  }

  void workloadGroup(String version, String yaml) {
    GenericKubernetesResource g = client.getKubernetesSerialization().unmarshal(yaml, GenericKubernetesResource.class);
    g.setApiVersion("networking.istio.io/" + version);
    g.setKind("WorkloadGroup");
    client.genericKubernetesResources(groups(version)).inNamespace(NS).resource(g).create();
  }

  void configMap(String ns, String name, String key, String value) {
    client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName(name)
        .withNamespace(ns).endMetadata().withData(Map.of(key, value)).build()).createOr(c -> c.update());
  }

  void namespace(String name, Map<String, String> labels) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels)
        .endMetadata().build()).create();
  }

  /** A gateway Service whose load balancer has {@code ip} or {@code hostname}. */
  void gateway(String ns, String name, Map<String, String> labels, String ip, String hostname) {
    Service s = new ServiceBuilder().withNewMetadata().withName(name).withNamespace(ns).withLabels(labels)
        .endMetadata().withNewSpec().withType("LoadBalancer").endSpec().withNewStatus().withNewLoadBalancer()
        .addNewIngress().withIp(ip).withHostname(hostname).endIngress().endLoadBalancer().endStatus().build();
    client.services().inNamespace(ns).resource(s).create();
  }

  /** Every TokenRequest for the group's service account gets a fresh JWT of {@code lifetime}, issued now. */
  void mintTokens(Duration lifetime) {
    server.expect().post().withPath(TOKEN_PATH).andReply(201, req -> {
      minted.incrementAndGet();
      Instant now = this.now.instant();
      return new TokenRequestBuilder().withNewSpec().withAudiences("istio-ca")
          .withExpirationSeconds(lifetime.toSeconds()).endSpec().withNewStatus()
          .withToken(SampleBundle.token(spec().withTokenLifetime(lifetime), now))
          .withExpirationTimestamp(now.plus(lifetime).toString()).endStatus().build();
    }).always();
  }

  /** TokenRequest answered with {@code code} (403 forbidden by RBAC, 404 no such service account). */
  void refuseTokens(int code, String reason) {
    server.expect().post().withPath(TOKEN_PATH).andReturn(code, new StatusBuilder().withCode(code)
        .withReason(reason).withMessage("serviceaccounts \"" + SA + "\" " + reason).build()).always();
  }

  /**
   * Bundles read from this cluster; an expired group is read again at once, on the caller's thread (as the service
   * does it in the background, {@link #bundles(Executor)}), so that a test sees a change right after the cache's time.
   */
  KubernetesBundles bundles(Optional<String> clusterId, Optional<String> gatewayAddress) {
    KubernetesMode.Options o = options(Optional.empty());
    return KubernetesMode.over(client, new KubernetesMode.Options(o.kubeconfig(), o.context(), o.istioNamespace(),
        o.revision(), clusterId, o.gatewayNamespace(), o.gatewayName(), gatewayAddress, o.tokenLifetime(),
        o.cacheTtl()), clock, log, KubernetesBundles.NO_ENTRIES, Runnable::run);
  }

  KubernetesBundles bundles() {
    return bundles(Optional.empty(), Optional.empty());
  }

  /** Bundles whose expired groups are read again on {@code refresher}. */
  KubernetesBundles bundles(Executor refresher) {
    return KubernetesMode.over(client, options(Optional.empty()), clock, log, KubernetesBundles.NO_ENTRIES,
        refresher);
  }

  /** Bundles that name each VM's entry, as {@code entries} knows them. */
  KubernetesBundles bundles(KubernetesBundles.EntryNames entries) {
    return KubernetesMode.over(client, options(Optional.empty()), clock, log, entries, Runnable::run);
  }

  String logged() {
    return logBytes.toString(StandardCharsets.UTF_8);
  }

  /** The WorkloadEntry of a machine in group foo, as the cluster holds it; null when there is none. */
  public Map<String, Object> entry(String machineId) {
    GenericKubernetesResource e = client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace(NS)
        .withName(GROUP + "-" + machineId).get();
    @SuppressWarnings("unchecked")
    Map<String, Object> m = e == null ? null : client.getKubernetesSerialization().convertValue(e, Map.class);
    return m;
  }

  /** The last TokenRequest's body, as the API server received it. */
  TokenRequest lastTokenRequest() throws InterruptedException {
    return client.getKubernetesSerialization().unmarshal(server.getLastRequest().getBody().readUtf8(),
        TokenRequest.class);
  }

  static List<String> etag(String tag) {
    return List.of(tag);
  }
}
