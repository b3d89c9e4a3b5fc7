package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A replica's copy of its entries: the informer's, or its own latest write until the informer has shown it. */
@EnableKubernetesMockClient(crud = true)
class EntryCacheTest {
  KubernetesMockServer server;
  KubernetesClient client;
  private final AtomicLong nanos = new AtomicLong();
  private EntryCache cache;

  @BeforeEach
  void start() throws Exception {
    MeshOnMockApi mesh = new MeshOnMockApi(server, client).istioctlCase();
    cache = new EntryCache(client, mesh.log, nanos::get);
    await(cache::synced);
  }

  @AfterEach
  void stop() {
    cache.close();
  }

  private static void await(BooleanSupplier done) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out");
      Thread.sleep(5);
    }
  }

  private GenericKubernetesResource create() {
    GenericKubernetesResource e = new GenericKubernetesResource();
    e.setApiVersion("networking.istio.io/v1");
    e.setKind("WorkloadEntry");
    e.setMetadata(new ObjectMetaBuilder().withName("foo-vm").withNamespace("bar")
        .withLabels(Map.of(EntryPlan.MANAGED_BY, EntryPlan.MANAGER)).build());
    e.setAdditionalProperty("spec", Map.of("address", "10.0.0.1"));
    return client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(e).create();
  }

  /** Another replica's status write over {@code entry}. */
  private GenericKubernetesResource writeStatus(GenericKubernetesResource entry, String reason) {
    GenericKubernetesResource copy = client.getKubernetesSerialization().clone(entry);
    copy.setAdditionalProperty("status", Map.of("conditions", List.of(Map.of("type", "Healthy", "status", "True",
        "reason", reason))));
    return client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(copy)
        .updateStatus();
  }

  private String cachedVersion() {
    GenericKubernetesResource e = cache.get("bar", "foo-vm");
    return e == null ? null : e.getMetadata().getResourceVersion();
  }

  @Test
  void anOwnWriteWhoseWatchEventCameBeforeItsAnswerDoesNotHideLaterWrites() throws Exception {
    GenericKubernetesResource mine = create();
    // The mock sends a write's watch event before its answer: the informer has it when the writer remembers it.
    await(() -> mine.getMetadata().getResourceVersion().equals(cachedVersion()));
    cache.wrote(mine);
    GenericKubernetesResource theirs = writeStatus(mine, "Serving");
    await(() -> theirs.getMetadata().getResourceVersion().equals(cachedVersion()));
    assertEquals("Serving", ((Map<?, ?>) ((List<?>) ((Map<?, ?>) cache.get("bar", "foo-vm")
        .getAdditionalProperties().get("status")).get("conditions")).get(0)).get("reason"));
  }

  @Test
  void anOwnWriteNotYetShownIsReadBackAndTrustedForAFewSecondsOnly() throws Exception {
    GenericKubernetesResource shown = create();
    await(() -> shown.getMetadata().getResourceVersion().equals(cachedVersion()));
    GenericKubernetesResource ahead = client.getKubernetesSerialization().clone(shown);
    ahead.getMetadata().setResourceVersion("999999"); // a write whose event has not come yet
    cache.wrote(ahead);
    assertEquals("999999", cachedVersion(), "the replica's own write, before its event");
    nanos.addAndGet(EntryCache.OWN_WRITE.toNanos());
    assertEquals(shown.getMetadata().getResourceVersion(), cachedVersion(), "then the informer's copy again");
  }
}
