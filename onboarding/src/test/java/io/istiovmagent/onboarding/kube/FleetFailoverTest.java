package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.istiovmagent.onboarding.mesh.Condition;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two replicas of the service over one (mock) API server, in real time: one leads (a Lease), both take reports;
 * the leader takes a VM gone silent out of traffic; killed, its place is taken within the lease time, and no VM that
 * goes on reporting flaps.
 */
class FleetFailoverTest {
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration EVERY = Duration.ofMillis(200);
  private static final String VM1 = "00000000000000000000000000000001";
  private static final String VM2 = "00000000000000000000000000000002";
  private static final String SILENT = "00000000000000000000000000000003";

  /** One replica: its own client, informers, writers and duties. */
  private static final class Replica implements AutoCloseable {
    final KubernetesClient client;
    final EntryRegistry entries;
    final HeardFrom heard;
    final FleetDuties duties;

    Replica(MeshOnMockApi mesh, String name) {
      client = mesh.server.createClient();
      EntryCache cache = new EntryCache(client, mesh.log);
      heard = new HeardFrom(client, "istio-vm-onboarding", name, mesh.log);
      entries = new EntryRegistry(client, KubernetesMode.reads(client, MeshOnMockApi.options(Optional.empty())),
          cache, heard::heard, Clock.systemUTC(), mesh.log);
      duties = new FleetDuties(client, cache, entries, heard, Optional.empty(), new FleetDuties.Settings(
          "istio-vm-onboarding", name, Duration.ofHours(24), false, LEASE, EVERY, Duration.ZERO), Clock.systemUTC(), mesh.log)
          .start();
    }

    void report(String machineId) {
      Instant now = Instant.now();
      entries.accepted(new Grant.Vm("bar", "foo", machineId), new HealthReport(1, "HEALTHY", List.of(),
          now.toString(), 1L, new HealthReport.Agent("t", now.toString(), 1L),
          new HealthReport.Host("vm", machineId, List.of("10.0.0." + machineId.charAt(31))),
          new HealthReport.Workload("bar", "vm-serviceaccount", "foo", null, null), null,
          new HealthReport.Sidecar("active/running", true, 0L, 1L, false, List.of()), List.of()), now);
    }

    /** As a killed pod: its connections gone first, so it cannot hand its Lease over. */
    void kill() {
      client.close();
      close();
    }

    @Override
    public void close() {
      duties.close();
      heard.close();
      entries.close();
      client.close();
    }
  }

  private MeshOnMockApi mesh;
  private Replica a;
  private Replica b;
  private SharedIndexInformer<GenericKubernetesResource> watch;
  private final Queue<String> flaps = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void start() throws Exception {
    mesh = MeshOnMockApi.startInRealTime().istioctlCase();
    watch = mesh.client.genericKubernetesResources(EntryRegistry.ENTRIES).inAnyNamespace()
        .inform(new ResourceEventHandler<>() {
          @Override
          public void onAdd(GenericKubernetesResource e) {
            check(e);
          }

          @Override
          public void onUpdate(GenericKubernetesResource old, GenericKubernetesResource e) {
            check(e);
          }

          @Override
          public void onDelete(GenericKubernetesResource e, boolean unknown) {}
        });
  }

  /** Records any VM that goes on reporting but is taken out of traffic after it was once in. */
  private void check(GenericKubernetesResource e) {
    String machine = e.getMetadata().getLabels().get(EntryPlan.MACHINE_LABEL);
    Optional<Condition> healthy = Condition.find(EntryRegistry.conditions(e), Condition.HEALTHY);
    if (!SILENT.equals(machine) && healthy.isPresent() && healthy.get().status().equals("False")
        && !"Enrolled".equals(healthy.get().reason())) {
      flaps.add(machine + ": " + healthy.get().reason() + " " + healthy.get().message());
    }
  }

  @AfterEach
  void stop() {
    watch.close();
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
    mesh.close();
  }

  private static void await(String what, Duration limit, BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
      Thread.sleep(20);
    }
  }

  private String healthyReason(String machineId) {
    GenericKubernetesResource e = mesh.client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar")
        .withName(EntryPlan.name("foo", machineId)).get();
    return e == null ? "absent" : Condition.find(EntryRegistry.conditions(e), Condition.HEALTHY)
        .map(c -> c.status() + "/" + c.reason()).orElse("none");
  }

  @Test
  void theLeaderSweepsAndAnotherTakesOverWithinTheLeaseWithoutAFlap() throws Exception {
    a = new Replica(mesh, "replica-a");
    await("replica-a to lead", LEASE.multipliedBy(3), a.duties::leading);
    b = new Replica(mesh, "replica-b");
    a.report(SILENT);
    // VM1 reports to the replica that does not lead, so the leader knows of it only through the other's records;
    // VM2 to replica-a while it lives. One report per heartbeat of 1 s.
    java.util.concurrent.atomic.AtomicBoolean aAlive = new java.util.concurrent.atomic.AtomicBoolean(true);
    Thread driver = new Thread(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          (aAlive.get() && !a.duties.leading() ? a : b).report(VM1);
          (aAlive.get() ? a : b).report(VM2);
          Thread.sleep(1000);
        }
      } catch (InterruptedException e) {
        // stopped
      }
    });
    driver.setDaemon(true);
    driver.start();
    try {
      await("both VMs in traffic", Duration.ofSeconds(10), () -> healthyReason(VM1).equals("True/Serving")
          && healthyReason(VM2).equals("True/Serving"));
      // 3 heartbeats of 1 s, plus the slack for the replicas' records: the leader takes the silent VM out.
      await("the silent VM out of traffic", Duration.ofSeconds(15), () -> healthyReason(SILENT).equals(
          "False/AgentSilent"));

      assertTrue(!b.duties.leading(), "one leader");
      assertTrue(a.duties.leading(), "replica-a still leads: VM1 was judged by replica-b's records");
      long killed = System.nanoTime();
      aAlive.set(false);
      a.kill();
      await("replica-b to lead", LEASE.multipliedBy(3), b.duties::leading);
      Duration takeover = Duration.ofNanos(System.nanoTime() - killed);
      System.out.println("leader killed to a new leader: " + takeover.toMillis() + " ms (lease " + LEASE.toMillis()
          + " ms)");
      assertTrue(takeover.compareTo(LEASE.plus(LEASE.dividedBy(2))) <= 0, "took over within the lease time (and "
          + "its retry period): " + takeover.toMillis() + " ms");
      // Sweeps under the new leader, over VMs whose last reports reached the replica that died.
      Thread.sleep(Duration.ofSeconds(3).toMillis()); // the span of 3 heartbeats, to be judged by the new leader
      assertEquals("True/Serving", healthyReason(VM1));
      assertEquals("True/Serving", healthyReason(VM2));
      assertEquals("False/AgentSilent", healthyReason(SILENT));
      assertEquals(List.of(), List.copyOf(flaps), "no VM that goes on reporting was taken out");
    } finally {
      driver.interrupt();
      driver.join(TimeUnit.SECONDS.toMillis(5));
    }
  }
}
