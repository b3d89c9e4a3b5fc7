package io.istiovmagent.onboarding.kube;

import static io.istiovmagent.onboarding.kube.MeshOnMockApi.CASES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzReader;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.BundleProvider.Lookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bundles made from a cluster (fabric8's mock API server, CRUD mode), each with a token minted for it. */
@EnableKubernetesMockClient(crud = true)
class KubernetesBundlesTest {
  KubernetesMockServer server;
  KubernetesClient client;
  private MeshOnMockApi mesh;

  @BeforeEach
  void mesh() {
    mesh = new MeshOnMockApi(server, client);
  }

  private static String text(RawBundle b, BundleFile f) {
    return new String(b.file(f).orElseThrow(), StandardCharsets.UTF_8);
  }

  private static RawBundle found(Lookup l) throws Exception {
    return TarGzReader.read(assertInstanceOf(Lookup.Found.class, l, String.valueOf(l)).archive());
  }

  /**
   * istioctl's ipv4 case read from the cluster: mesh.yaml and hosts as istioctl writes them, cluster.env too but for
   * the VM's own IP (the service does not know it; pilot-agent finds it), and a token minted as istioctl mints it.
   */
  /** A group annotated for istiod's auto-registration: its bundle is istioctl's with --autoregister. */
  @Test
  void aGroupIstiodRegistersAsksIstiodToRegisterItsVms() throws Exception {
    mesh.istioctlCase();
    io.fabric8.kubernetes.api.model.GenericKubernetesResource group = mesh.client.genericKubernetesResources(
        MeshOnMockApi.groups("v1")).inNamespace("bar").withName("foo").get();
    group.getMetadata().setAnnotations(java.util.Map.of("istio-vm-agent.io/registration", "istiod"));
    mesh.client.genericKubernetesResources(MeshOnMockApi.groups("v1")).inNamespace("bar").resource(group).update();
    String env = text(found(mesh.bundles(KubernetesBundles.NO_ENTRIES).lookup("bar", "foo",
        java.util.Optional.of("0123456789abcdef0123456789abcdef"), null)), BundleFile.CLUSTER_ENV);
    assertTrue(env.contains("\nISTIO_META_AUTO_REGISTER_GROUP='foo'\n"), env);
    assertFalse(env.contains("ISTIO_META_WORKLOAD_ENTRY"), env);
  }

  @Test
  void makesIstioctlsBundleFromTheClusterWithAMintedToken() throws Exception {
    mesh.istioctlCase();
    RawBundle b = found(mesh.bundles().lookup("bar", "foo", null));
    assertEquals(Files.readString(CASES.resolve("ipv4/mesh.yaml")), text(b, BundleFile.MESH));
    assertEquals(Files.readString(CASES.resolve("ipv4/hosts")), text(b, BundleFile.HOSTS));
    assertEquals(Files.readString(CASES.resolve("ipv4/cluster.env")).replace("ISTIO_SVC_IP='10.10.10.10'\n", ""),
        text(b, BundleFile.CLUSTER_ENV));
    assertEquals(new String(mesh.rootCert, StandardCharsets.US_ASCII), text(b, BundleFile.ROOT_CERT));
    assertEquals(1, mesh.minted.get());
    TokenRequest sent = mesh.lastTokenRequest();
    assertEquals(List.of("istio-ca"), sent.getSpec().getAudiences());
    assertEquals(3600L, sent.getSpec().getExpirationSeconds());
    assertEquals(null, sent.getSpec().getBoundObjectRef(), "a VM is not a pod: nothing to bind the token to");
  }

  /**
   * The ETag names the configuration and the token's lifetime: until the token's half-life (less a minute) the
   * agent's conditional refresh is a 304 and mints nothing; then it gets a fresh token; a changed mesh config is a
   * new bundle at once (after the read cache's 10 s).
   */
  @Test
  void aConditionalRefreshMintsOnlyWhenTheTokenNeedsIt() throws Exception {
    mesh.istioctlCase();
    KubernetesBundles bundles = mesh.bundles();
    Lookup.Found first = (Lookup.Found) bundles.lookup("bar", "foo", null);
    String config = TarGzReader.read(first.archive()).configRevision();

    mesh.clock.advance(Duration.ofMinutes(10));
    assertEquals(new Lookup.NotModified(first.etag()), bundles.lookup("bar", "foo", List.of(first.etag())));
    mesh.clock.advance(Duration.ofMinutes(18)); // 28 min: before 29 min (half-life 30 less the margin)
    assertInstanceOf(Lookup.NotModified.class, bundles.lookup("bar", "foo", List.of(first.etag())));
    assertEquals(1, mesh.minted.get(), "a 304 mints no token");

    mesh.clock.advance(Duration.ofMinutes(2)); // 30 min: the token's half-life
    Lookup.Found second = (Lookup.Found) bundles.lookup("bar", "foo", List.of(first.etag()));
    assertEquals(2, mesh.minted.get());
    RawBundle renewed = TarGzReader.read(second.archive());
    assertEquals(config, renewed.configRevision(), "only the token changed");
    assertNotEquals(first.etag(), second.etag());
    assertInstanceOf(Lookup.NotModified.class, bundles.lookup("bar", "foo", List.of(second.etag())));

    mesh.configMap("istio-system", "istio-rev-1", "mesh", "defaultConfig:\n  proxyMetadata:\n    NEW: \"1\"\n");
    assertInstanceOf(Lookup.NotModified.class, bundles.lookup("bar", "foo", List.of(second.etag())),
        "read again only after the cache's 10 s");
    mesh.clock.advance(Duration.ofSeconds(10));
    RawBundle changed = found(bundles.lookup("bar", "foo", List.of(second.etag())));
    assertNotEquals(config, changed.configRevision());
    assertTrue(text(changed, BundleFile.CLUSTER_ENV).contains("NEW='1'\n"));
  }

  /**
   * A group read longer than the cache's time ago is read again in the background: reports and fetches meanwhile get
   * the configuration in use at once, not after the API server's answers; one read per group however many ask. One
   * more than a cache time late is waited for.
   */
  @Test
  void anExpiredGroupIsReadAgainOffTheRequestPath() throws Exception {
    mesh.istioctlCase();
    Deque<Runnable> reads = new ArrayDeque<>();
    KubernetesBundles bundles = mesh.bundles(reads::add);
    RawBundle held = found(bundles.lookup("bar", "foo", null));
    assertTrue(reads.isEmpty(), "a group not read yet is read at once");
    HealthReport.Bundle current = new HealthReport.Bundle(held.revision(), held.configRevision(), "s", null, null,
        null);

    mesh.configMap("istio-system", "istio-rev-1", "mesh", "defaultConfig:\n  proxyMetadata:\n    NEW: \"1\"\n");
    mesh.clock.advance(Duration.ofSeconds(10));
    assertEquals(Optional.of(false), bundles.changed("bar", "foo", current), "the one in use while it is read");
    assertEquals(held.configRevision(), found(bundles.lookup("bar", "foo", null)).configRevision());
    assertEquals(1, reads.size(), "one read for the group");
    reads.poll().run();
    assertEquals(Optional.of(true), bundles.changed("bar", "foo", current));
    RawBundle changed = found(bundles.lookup("bar", "foo", null));
    assertTrue(text(changed, BundleFile.CLUSTER_ENV).contains("NEW='1'\n"), text(changed, BundleFile.CLUSTER_ENV));

    mesh.configMap("istio-system", "istio-rev-1", "mesh", "defaultConfig:\n  proxyMetadata:\n    NEW: \"2\"\n");
    mesh.clock.advance(Duration.ofSeconds(10));
    bundles.changed("bar", "foo", current);
    assertEquals(1, reads.size());
    mesh.clock.advance(Duration.ofSeconds(10)); // twice the cache's time, its read not done: waited for
    RawBundle late = found(bundles.lookup("bar", "foo", null));
    assertTrue(text(late, BundleFile.CLUSTER_ENV).contains("NEW='2'\n"), text(late, BundleFile.CLUSTER_ENV));
    reads.poll().run(); // finds it read meanwhile
    assertEquals(late.configRevision(), found(bundles.lookup("bar", "foo", null)).configRevision());
    assertTrue(reads.isEmpty());
  }

  /** A report's hint compares the configuration the agent holds, not its token. */
  @Test
  void aReportIsConfirmedByItsConfigurationRevision() throws Exception {
    mesh.istioctlCase();
    KubernetesBundles bundles = mesh.bundles();
    RawBundle held = found(bundles.lookup("bar", "foo", null));
    HealthReport.Bundle current = new HealthReport.Bundle(held.revision(), held.configRevision(), "s", null, null,
        null);
    assertEquals(Optional.of(false), bundles.changed("bar", "foo", current));
    assertEquals(Optional.of(true), bundles.changed("bar", "foo", new HealthReport.Bundle(held.revision(),
        "sha256:" + "0".repeat(64), "s", null, null, null)));
    assertEquals(Optional.empty(), bundles.changed("bar", "foo", new HealthReport.Bundle(held.revision(), null,
        "s", null, null, null)), "an agent that names no configuration revision gets no hint");
    assertEquals(Optional.empty(), bundles.changed("bar", "other", current), "no bundle: nothing to confirm");
  }

  /** Istio before 1.22 serves WorkloadGroups as v1beta1 and v1alpha3 only. */
  @Test
  void readsAGroupServedAsAnOlderVersion() throws Exception {
    mesh.istioctlCase();
    mesh.workloadGroup("v1beta1", Files.readString(CASES.resolve("ipv4/workloadgroup.yaml"))
        .replace("name: foo", "name: legacy"));
    RawBundle b = found(mesh.bundles().lookup("bar", "legacy", null));
    assertTrue(text(b, BundleFile.CLUSTER_ENV).contains("ISTIO_SERVICE='legacy.bar'\n"));
  }

  @Test
  void aMissingGroupIsA404ThatSaysWhatToCreate() throws Exception {
    mesh.istioctlCase();
    Lookup l = mesh.bundles().lookup("bar", "nope", null);
    Lookup.Missing m = assertInstanceOf(Lookup.Missing.class, l);
    assertTrue(m.reason().startsWith("no WorkloadGroup bar/nope in the cluster; create it"), m.reason());
    assertEquals(0, mesh.minted.get());
  }

  /** Each missing or forbidden piece is named, to the VM (503) and once in the operator's log and /v1/vms. */
  @Test
  void eachMissingPieceIsNamed() throws Exception {
    mesh.istioctlCase();
    client.configMaps().inNamespace("bar").withName("istio-ca-root-cert").delete();
    KubernetesBundles bundles = mesh.bundles();
    Lookup.Unavailable u = assertInstanceOf(Lookup.Unavailable.class, bundles.lookup("bar", "foo", null));
    assertTrue(u.reason().contains("no ConfigMap bar/istio-ca-root-cert") && u.reason().contains("discoverySelectors"),
        u.reason());
    bundles.lookup("bar", "foo", null);
    assertEquals(1, mesh.logged().split("cannot make the bundle for bar/foo", -1).length - 1,
        "logged once, not per request:\n" + mesh.logged());
    assertEquals(Map.of("bar/foo", u.reason()), bundles.problems());

    mesh.configMap("bar", "istio-ca-root-cert", "root-cert.pem", new String(mesh.rootCert, StandardCharsets.US_ASCII));
    mesh.clock.advance(Duration.ofSeconds(10));
    found(bundles.lookup("bar", "foo", null));
    assertEquals(Map.of(), bundles.problems());
    assertTrue(mesh.logged().contains("the bundle for bar/foo can be made again"), mesh.logged());
  }

  @Test
  void aForbiddenTokenRequestNamesThePermission() throws Exception {
    mesh.istioctlCase();
    mesh.server.clearExpectations();
    mesh.refuseTokens(403, "Forbidden");
    Lookup.Unavailable u = assertInstanceOf(Lookup.Unavailable.class, mesh.bundles().lookup("bar", "foo", null));
    assertTrue(u.reason().contains("needs the permission to create serviceaccounts/token in bar"), u.reason());
  }

  @Test
  void aMissingServiceAccountIsNamed() throws Exception {
    mesh.istioctlCase();
    mesh.server.clearExpectations();
    mesh.refuseTokens(404, "NotFound");
    Lookup.Unavailable u = assertInstanceOf(Lookup.Unavailable.class, mesh.bundles().lookup("bar", "foo", null));
    assertTrue(u.reason().startsWith("no ServiceAccount bar/vm-serviceaccount"), u.reason());
  }

  @Test
  void theGatewayIsNamedWhenMissingAndAHostNameLeavesHostsEmpty() throws Exception {
    mesh.istioctlCase();
    client.services().inNamespace("istio-system").withName("istio-eastwestgateway").delete();
    Lookup.Unavailable u = assertInstanceOf(Lookup.Unavailable.class, mesh.bundles().lookup("bar", "foo", null));
    assertTrue(u.reason().contains("no east-west gateway: Service istio-system/istio-eastwestgateway does not "
        + "exist"), u.reason());

    mesh.gateway("istio-system", "istio-eastwestgateway", Map.of(), null, "gw.example.com");
    RawBundle b = found(mesh.bundles().lookup("bar", "foo", null));
    assertEquals("", text(b, BundleFile.HOSTS), "the agent resolves a host name itself (hosts.gatewayHostname)");
  }

  /** A group on its own network reaches istiod through the gateway labelled with the cluster's network. */
  @Test
  void aGroupOnAnotherNetworkGetsItsNetworksGateway() throws Exception {
    mesh.istioctlCase();
    mesh.namespace("istio-system", Map.of("topology.istio.io/network", "net1"));
    mesh.gateway("istio-system", "net1-gateway", Map.of("topology.istio.io/network", "net1"), "10.0.0.99", null);
    mesh.workloadGroup("v1", Files.readString(CASES.resolve("ipv4/workloadgroup.yaml"))
        .replace("name: foo", "name: remote")
        .replace("    serviceAccount:", "    network: vm-net\n    serviceAccount:"));
    RawBundle b = found(mesh.bundles().lookup("bar", "remote", null));
    assertEquals("10.0.0.99 istiod-rev-1.istio-system.svc\n", text(b, BundleFile.HOSTS));
    assertTrue(text(b, BundleFile.CLUSTER_ENV).contains("ISTIO_META_NETWORK='vm-net'\n"));
  }

  @Test
  void theClusterIdComesFromTheFlagOrTheInjector() throws Exception {
    mesh.istioctlCase();
    mesh.configMap("istio-system", "istio-sidecar-injector-rev-1", "values",
        "{\"global\":{\"multiCluster\":{\"clusterName\":\"east\"}}}");
    assertTrue(text(found(mesh.bundles().lookup("bar", "foo", null)), BundleFile.CLUSTER_ENV)
        .contains("ISTIO_META_CLUSTER_ID='east'\n"));
    assertTrue(text(found(mesh.bundles(Optional.of("west"), Optional.empty()).lookup("bar", "foo", null)),
        BundleFile.CLUSTER_ENV).contains("ISTIO_META_CLUSTER_ID='west'\n"));

    client.configMaps().inNamespace("istio-system").withName("istio-sidecar-injector-rev-1").delete();
    Lookup.Unavailable u = assertInstanceOf(Lookup.Unavailable.class, mesh.bundles().lookup("bar", "foo", null));
    assertTrue(u.reason().contains("no ConfigMap istio-system/istio-sidecar-injector-rev-1")
        && u.reason().contains("--cluster-id"), u.reason());
    assertFalse(mesh.logged().contains("eyJ"), "no token in the log");
  }
}
