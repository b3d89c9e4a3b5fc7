package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.istiovmagent.onboarding.mesh.Condition;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.HealthVerdict;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import io.istiovmagent.server.HealthSink;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Each reporting VM as a WorkloadEntry ({@link EntryPlan}), its {@code Healthy} condition kept in step with its
 * agent's reports ({@link HealthVerdict}, {@link Condition}): written through {@code /status} with the entry's
 * resource version, on transitions only, a conflict retried from a fresh read. Reports are taken on the request's
 * thread and written by workers of their own; of the reports of one VM waiting, only the latest is written.
 */
final class EntryRegistry implements HealthSink, AutoCloseable {
  static final ResourceDefinitionContext ENTRIES = new ResourceDefinitionContext.Builder()
      .withGroup("networking.istio.io").withVersion("v1").withKind("WorkloadEntry").withPlural("workloadentries")
      .withNamespaced(true).build();
  private static final int ATTEMPTS = 5;
  private static final int WORKERS = 2;

  private record Pending(String namespace, String group, String machineId, HealthReport report, Instant receivedAt) {
    String key() {
      return namespace + "/" + EntryPlan.name(group, machineId);
    }
  }

  private final KubernetesClient client;
  private final ClusterReads reads;
  private final Clock clock;
  private final Log log;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  private final BlockingQueue<String> dirty = new LinkedBlockingQueue<>();
  private final Map<String, String> reported = new ConcurrentHashMap<>();
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicInteger busy = new AtomicInteger();
  private final java.util.Set<String> writing = ConcurrentHashMap.newKeySet();

  EntryRegistry(KubernetesClient client, ClusterReads reads, Clock clock, Log log) {
    this.client = client;
    this.reads = reads;
    this.clock = clock;
    this.log = log;
    for (int i = 0; i < WORKERS; i++) {
      Thread t = new Thread(this::work, "entry-writer-" + i);
      t.setDaemon(true);
      t.start();
      workers.add(t);
    }
  }

  @Override
  public void accepted(Grant.Workload grant, HealthReport report, Instant receivedAt) {
    String machineId = grant instanceof Grant.Vm vm ? vm.machineId()
        : report.host() == null ? null : report.host().machineId();
    if (machineId == null || !Secrets.isMachineId(machineId) || closed.get()) {
      return; // an entry is named by its machine: a VM without /etc/machine-id is not registered
    }
    Pending p = new Pending(grant.namespace(), grant.group(), machineId, report, receivedAt);
    if (pending.put(p.key(), p) == null && !writing.contains(p.key())) {
      dirty.add(p.key()); // a VM being written is queued again by its writer when done
    }
  }

  @Override
  public Map<String, String> problems() {
    return new java.util.TreeMap<>(reported);
  }

  /** Whether every report taken has been written (or failed); tests wait for it instead of sleeping. */
  boolean idle() {
    return pending.isEmpty() && dirty.isEmpty() && busy.get() == 0;
  }

  @Override
  public void close() {
    closed.set(true);
    workers.forEach(Thread::interrupt);
  }

  private void work() {
    while (!closed.get()) {
      String key;
      try {
        key = dirty.take();
      } catch (InterruptedException e) {
        return;
      }
      busy.incrementAndGet();
      // One writer per entry at a time, so that an older report never lands after a newer one.
      if (!writing.add(key)) {
        busy.decrementAndGet();
        continue;
      }
      try {
        Pending p = pending.remove(key);
        if (p != null) {
          write(p);
        }
      } catch (RuntimeException e) {
        report(key, "internal error: " + e);
      } finally {
        writing.remove(key);
        if (pending.containsKey(key)) {
          dirty.add(key);
        }
        busy.decrementAndGet();
      }
    }
  }

  /** Creates the entry when missing, then brings its Healthy condition in step; a conflict is read again. */
  private void write(Pending p) {
    String name = EntryPlan.name(p.group(), p.machineId());
    String key = p.key();
    try {
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        GenericKubernetesResource entry = client.genericKubernetesResources(ENTRIES).inNamespace(p.namespace())
            .withName(name).get();
        if (entry == null) {
          Optional<GenericKubernetesResource> created = create(p);
          if (created.isEmpty()) {
            return;
          }
          entry = created.get();
        }
        Instant now = clock.instant();
        Optional<List<Condition>> next = Condition.next(conditions(entry),
            HealthVerdict.of(p.report(), p.receivedAt(), now), now);
        if (next.isEmpty()) {
          clear(key);
          return;
        }
        Map<String, Object> status = new LinkedHashMap<>(map(entry.getAdditionalProperties().get("status")));
        status.put("conditions", next.get().stream().map(EntryRegistry::render).toList());
        entry.setAdditionalProperty("status", status);
        try {
          client.genericKubernetesResources(ENTRIES).inNamespace(p.namespace()).resource(entry).updateStatus();
          clear(key);
          return;
        } catch (KubernetesClientException e) {
          if (e.getCode() != 409) {
            throw e;
          }
        }
      }
      report(key, "the entry kept changing under us (" + ATTEMPTS + " conflicts); the next report tries again");
    } catch (KubernetesClientException e) {
      report(key, ClusterReads.failure(e, "get, create and update workloadentries (and workloadentries/status) in "
          + p.namespace()).getMessage());
    } catch (ClusterReads.Problem e) {
      report(key, e.getMessage());
    }
  }

  private Optional<GenericKubernetesResource> create(Pending p) throws ClusterReads.Problem {
    Optional<Map<String, Object>> group = reads.groupObject(p.namespace(), p.group());
    if (group.isEmpty()) {
      report(p.key(), "no WorkloadGroup " + p.namespace() + "/" + p.group() + " to register machine "
          + p.machineId() + " in");
      return Optional.empty();
    }
    Map<String, Object> meta = map(map(group.get().get("spec")).get("metadata"));
    Object family = map(meta.get("annotations")).get(EntryPlan.FAMILY_ANNOTATION);
    List<String> addresses = p.report().host() == null ? List.of() : p.report().host().addresses();
    Optional<String> address = EntryPlan.address(addresses, family instanceof String f ? f : null);
    if (address.isEmpty()) {
      report(p.key(), "machine " + p.machineId() + " reports no address the mesh could reach (only loopback, "
          + "link-local or none): not registered");
      return Optional.empty();
    }
    GenericKubernetesResource entry = client.getKubernetesSerialization().convertValue(
        EntryPlan.entry(group.get(), p.machineId(), address.get()), GenericKubernetesResource.class);
    try {
      GenericKubernetesResource created = client.genericKubernetesResources(ENTRIES).inNamespace(p.namespace())
          .resource(entry).create();
      log.notice("registered machine " + p.machineId() + " as WorkloadEntry " + p.key() + " at " + address.get());
      return Optional.of(created);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) { // another replica made it meanwhile
        return Optional.ofNullable(client.genericKubernetesResources(ENTRIES).inNamespace(p.namespace())
            .withName(EntryPlan.name(p.group(), p.machineId())).get());
      }
      throw e;
    }
  }

  private static List<Condition> conditions(GenericKubernetesResource entry) {
    Object list = map(entry.getAdditionalProperties().get("status")).get("conditions");
    List<Condition> out = new ArrayList<>();
    if (list instanceof List<?> l) {
      for (Object o : l) {
        Map<String, Object> c = map(o);
        if (c.get("type") instanceof String type) {
          out.add(new Condition(type, String.valueOf(c.getOrDefault("status", "Unknown")),
              instant(c.get("lastProbeTime")), instant(c.get("lastTransitionTime")), string(c.get("reason")),
              string(c.get("message"))));
        }
      }
    }
    return out;
  }

  private static Map<String, Object> render(Condition c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", c.type());
    m.put("status", c.status());
    if (c.lastProbeTime() != null) {
      m.put("lastProbeTime", c.lastProbeTime().toString());
    }
    if (c.lastTransitionTime() != null) {
      m.put("lastTransitionTime", c.lastTransitionTime().toString());
    }
    if (c.reason() != null) {
      m.put("reason", c.reason());
    }
    if (c.message() != null) {
      m.put("message", c.message());
    }
    return m;
  }

  private void report(String key, String problem) {
    if (!problem.equals(reported.put(key, problem))) {
      log.warn("WorkloadEntry " + key + ": " + problem);
    }
  }

  private void clear(String key) {
    if (reported.remove(key) != null) {
      log.notice("WorkloadEntry " + key + " is written again");
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  private static String string(Object o) {
    return o instanceof String s ? s : null;
  }

  private static Instant instant(Object o) {
    try {
      return o instanceof String s ? Instant.parse(s) : null;
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
