package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.mesh.SweepPlan;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The replicas' last-seen records, over fabric8's mock API server. */
@EnableKubernetesMockClient(crud = true)
class HeardFromTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final String NS = "istio-vm-onboarding";

  KubernetesMockServer server;
  KubernetesClient client;
  private final Log log = new Log(new PrintStream(new ByteArrayOutputStream(), true), false);

  /**
   * A steady replica's flush is one PUT over its own last write; a record deleted meanwhile (the leader took this
   * replica for gone) is made again.
   */
  @Test
  void aFlushOverTheReplicasOwnRecordIsOneWrite() throws Exception {
    String name = HeardFrom.PREFIX + "a";
    try (HeardFrom a = new HeardFrom(client, NS, "a", log)) {
      a.heard("bar/foo-1", T0, 60);
      a.flush(T0.plusSeconds(10));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!a.holds(name)) {
        assertTrue(System.nanoTime() < deadline, "the informer never held the record");
        Thread.sleep(10);
      }
      int before = server.getRequestCount();
      a.heard("bar/foo-2", T0.plusSeconds(15), 60);
      a.flush(T0.plusSeconds(20));
      assertEquals(1, server.getRequestCount() - before, "one request");
      assertEquals("PUT", server.getLastRequest().getMethod());
      assertEquals("bar/foo-2 " + T0.plusSeconds(15).getEpochSecond() + " 60\n", record(name));

      client.configMaps().inNamespace(NS).withName(name).delete();
      a.heard("bar/foo-3", T0.plusSeconds(25), 60);
      a.flush(T0.plusSeconds(30));
      assertEquals("bar/foo-3 " + T0.plusSeconds(25).getEpochSecond() + " 60\n", record(name));
    }
  }

  private String record(String name) {
    return client.configMaps().inNamespace(NS).withName(name).get().getData().get(HeardFrom.KEY);
  }

  /** One replica heard a large fleet in one flush: spread over records of at most MAX_LINES; another reads all. */
  @Test
  void aLargeFlushIsSpreadOverRecordsAndAnotherReplicaReadsThemAll() throws Exception {
    int vms = HeardFrom.MAX_LINES + 10;
    try (HeardFrom a = new HeardFrom(client, "istio-vm-onboarding", "a", log);
        HeardFrom b = new HeardFrom(client, "istio-vm-onboarding", "b", log)) {
      for (int i = 0; i < vms; i++) {
        a.heard("bar/foo-" + String.format("%032x", i), T0.plusSeconds(i % 60), 60);
      }
      a.flush(T0.plusSeconds(60));
      assertEquals(2, client.configMaps().inNamespace("istio-vm-onboarding").withLabel(HeardFrom.COMPONENT,
          HeardFrom.COMPONENT_VALUE).list().getItems().size());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (b.latest().size() < vms) {
        assertTrue(System.nanoTime() < deadline, "replica b read " + b.latest().size() + " of " + vms);
        Thread.sleep(10);
      }
      assertEquals(new SweepPlan.Seen(T0.plusSeconds(59), 60), b.latest().get("bar/foo-" + String.format("%032x",
          59)));
      a.flush(T0.plusSeconds(70));
      assertEquals(2, client.configMaps().inNamespace("istio-vm-onboarding").list().getItems().size(),
          "nothing heard since: nothing written");
    }
  }
}
