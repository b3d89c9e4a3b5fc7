package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerConfigException;
import io.istiovmagent.server.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A fleet of three VMs in fabric8's mock API server, their entries written by the service's own registry from real
 * reports, so their conditions are exactly what the service writes: one serving (bar/foo), one whose sidecar died
 * after serving (bar/foo), one that never was healthy (baz/web). {@link #serve} starts the service over HTTPS in the
 * Kubernetes mode, listing them from its informer.
 */
final class FleetOnMockApi implements AutoCloseable {
  static final String SERVING = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
  static final String DOWN = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
  static final String NEVER = "ccccccccccccccccccccccccccccccc3";
  static final String ADMIN = "jt-admin-00000000000000000000000000000001";
  /** When the fleet is looked at: a minute after the first reports. */
  static final Instant NOW = MeshOnMockApi.START.plusSeconds(60);

  final MeshOnMockApi mesh;
  final KubernetesClient client;
  final EntryCache cache;
  final EntryRegistry registry;
  private OnboardingServer endpoint;

  FleetOnMockApi(KubernetesMockServer server, KubernetesClient client) throws IOException {
    this.mesh = new MeshOnMockApi(server, client).istioctlCase();
    this.client = client;
    GenericKubernetesResource web = client.getKubernetesSerialization().unmarshal(
        Files.readString(MeshOnMockApi.CASES.resolve("ipv4/workloadgroup.yaml")), GenericKubernetesResource.class);
    web.setApiVersion("networking.istio.io/v1");
    web.getMetadata().setName("web");
    web.getMetadata().setNamespace("baz");
    client.genericKubernetesResources(MeshOnMockApi.groups("v1")).inNamespace("baz").resource(web).create();
    cache = new EntryCache(client, mesh.log);
    registry = new EntryRegistry(client, KubernetesMode.reads(client, MeshOnMockApi.options(Optional.empty())),
        cache, EntryRegistry.Heard.NONE, mesh.clock, mesh.log);
  }

  /** The three VMs report; returns once the informer shows every entry as the API server has it. */
  FleetOnMockApi reported() throws Exception {
    send("bar", "foo", SERVING, report("bar", "foo", SERVING, "HEALTHY", "active/running", true, List.of(), "10.0.0.7",
        NOW.plus(Duration.ofMinutes(41))));
    send("bar", "foo", DOWN, report("bar", "foo", DOWN, "HEALTHY", "active/running", true, List.of(), "10.0.0.8",
        NOW.plus(Duration.ofMinutes(38))));
    send("baz", "web", NEVER, report("baz", "web", NEVER, "UNHEALTHY", "active/running", false,
        List.of("Envoy not ready (HTTP 503)"), "10.0.1.9", NOW.plus(Duration.ofMinutes(12))));
    mesh.clock.advance(Duration.ofSeconds(60));
    send("bar", "foo", DOWN, report("bar", "foo", DOWN, "UNHEALTHY", "failed/failed", false,
        List.of("istio.service is failed: Main process exited, code=exited, status=1/FAILURE"), "10.0.0.8",
        NOW.plus(Duration.ofMinutes(38))));
    ClusterVms api = new ClusterVms(client);
    await(() -> api.list(Optional.empty()).size() == 3
        && api.list(Optional.empty()).equals(ClusterVms.rows(client.getKubernetesSerialization(), cache.all())));
    return this;
  }

  /**
   * The service in the Kubernetes mode on a free loopback port, with a certificate made now by the system's clock
   * (a browser checks it by its own), the fleet from this informer, and {@link #ADMIN} as an admin join token.
   */
  OnboardingServer serve(Path dir) throws IOException, ServerConfigException {
    Path tokens = Files.writeString(dir.resolve("tokens.yaml"), "tokens:\n  - token: " + ADMIN
        + "\n    admin: true\n");
    Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
    endpoint = OnboardingServer.builder().listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .tls(ServerTls.selfSigned(Clock.systemUTC(), List.of())).bundles(mesh.bundles(registry::entryOf))
        .healthSink(registry).fleet(new EntryFleet(cache, registry.leaseCache(),
            client.getKubernetesSerialization())).clock(mesh.clock)
        .log(mesh.log).tokens(tokens).build();
    endpoint.start();
    return endpoint;
  }

  @Override
  public void close() {
    if (endpoint != null) {
      endpoint.stop();
    }
    registry.close();
  }

  private void send(String ns, String group, String machine, HealthReport r) throws Exception {
    registry.accepted(new Grant.Vm(ns, group, machine), r, mesh.clock.instant());
    await(registry::idle);
  }

  private static HealthReport report(String ns, String group, String machine, String status, String sidecar,
      boolean ready, List<String> reasons, String address, Instant tokenExpires) {
    return new HealthReport(1, status, reasons, MeshOnMockApi.START.toString(), 1L,
        new HealthReport.Agent("0.1.0", "2026-12-07T09:59:00Z", 60L),
        new HealthReport.Host("vm-" + machine.charAt(31), machine, List.of("127.0.0.1", address)),
        new HealthReport.Workload(ns, "vm-serviceaccount", group, null, null),
        new HealthReport.Bundle("sha256:5f1d0c9e2a7b44", "sha256:5f1d0c9e2a7b44", "https://onboarding/v1/bundle",
            "2026-12-07T09:59:30Z", tokenExpires.toString(), "2027-12-07T10:00:00Z"),
        new HealthReport.Sidecar(sidecar, ready, "failed/failed".equals(sidecar) ? 3L : 0L, 812L, false,
            "failed/failed".equals(sidecar) ? List.of("istio.service: Main process exited, status=1/FAILURE")
                : List.of()),
        List.of());
  }

  /** Polls what the informer or the writers make true; fails after 10 s. Never a fixed sleep. */
  static void await(BooleanSupplier done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out");
      Thread.sleep(5);
    }
  }
}
