package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.istiovmagent.onboarding.mesh.Condition;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.onboarding.mesh.EntryStatus;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.server.Grant;
import io.istiovmagent.server.HealthSink;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Each VM as a WorkloadEntry ({@link EntryPlan}): registered when it enrols (so that its bundle can name the entry)
 * or at its first report, its {@code Healthy} condition and the service's own {@value EntryStatus#AGENT} kept in step
 * with its agent's reports ({@link EntryStatus}): written through {@code /status} with the entry's resource version,
 * on transitions and a liveness write per 10 minutes only, a conflict retried from a fresh read. Entries are read
 * from an informer ({@link EntryCache}), so a report that changes nothing costs the API server nothing. Reports are
 * taken on the request's thread and written by workers of their own; of the reports of one VM waiting, only the
 * latest is written.
 */
final class EntryRegistry implements HealthSink, AutoCloseable {
  static final ResourceDefinitionContext ENTRIES = new ResourceDefinitionContext.Builder()
      .withGroup("networking.istio.io").withVersion("v1").withKind("WorkloadEntry").withPlural("workloadentries")
      .withNamespaced(true).build();
  /** The state of a VM of a group istiod registers ({@link EntryPlan#stateLease}). */
  static final ResourceDefinitionContext LEASES = new ResourceDefinitionContext.Builder()
      .withGroup("coordination.k8s.io").withVersion("v1").withKind("Lease").withPlural("leases")
      .withNamespaced(true).build();
  private static final int ATTEMPTS = 5;
  private static final int WORKERS = 2;

  private record Pending(String namespace, String group, String machineId, HealthReport report, Instant receivedAt) {
    String key() {
      return namespace + "/" + EntryPlan.name(group, machineId);
    }
  }

  /** Told of every report taken, for the fleet's silence sweep ({@link HeardFrom}). */
  interface Heard {
    Heard NONE = (key, at, heartbeatSeconds) -> {};

    void heard(String key, Instant at, long heartbeatSeconds);
  }

  /** How long deregistration waits for a write of the same entry in progress to end. */
  private static final Duration WRITE_WAIT = Duration.ofSeconds(5);

  private final KubernetesClient client;
  private final ClusterReads reads;
  private final Heard heard;
  private final EntryCache cache;
  private final EntryCache leases;
  private final Clock clock;
  private final Log log;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  private final BlockingQueue<String> dirty = new LinkedBlockingQueue<>();
  private final Map<String, String> reported = new ConcurrentHashMap<>();
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicInteger busy = new AtomicInteger();
  private final Set<String> writing = ConcurrentHashMap.newKeySet();
  /** Entries deregistered, and when: a report received before that is not written (it would bring them back). */
  private final Map<String, Instant> deregistered = new ConcurrentHashMap<>();

  EntryRegistry(KubernetesClient client, ClusterReads reads, Clock clock, Log log) {
    this(client, reads, new EntryCache(client, log), Heard.NONE, clock, log);
  }

  EntryRegistry(KubernetesClient client, ClusterReads reads, EntryCache cache, Heard heard, Clock clock, Log log) {
    this.client = client;
    this.reads = reads;
    this.heard = heard;
    this.cache = cache;
    this.leases = new EntryCache(client, LEASES, log);
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
    Long heartbeat = report.agent() == null ? null : report.agent().heartbeatSeconds();
    heard.heard(p.key(), receivedAt, heartbeat == null ? 0 : heartbeat);
    if (pending.put(p.key(), p) == null && !writing.contains(p.key())) {
      dirty.add(p.key()); // a VM being written is queued again by its writer when done
    }
  }

  /**
   * Registers a VM as it enrols, before it fetches its first bundle: creates its entry at the first address of
   * {@code addresses} the group's policy takes, out of traffic (Healthy False, reason Enrolled) until its agent's
   * first report. Returns whether the entry exists afterwards; why not is logged and shown in /v1/vms.
   */
  boolean register(String namespace, String group, String machineId, List<String> addresses) {
    String name = EntryPlan.name(group, machineId);
    String key = namespace + "/" + name;
    try {
      GenericKubernetesResource entry = find(namespace, name);
      if (entry == null) {
        Optional<GenericKubernetesResource> created = create(namespace, group, machineId, addresses, key);
        if (created.isEmpty()) {
          return false;
        }
        entry = created.get();
      }
      if (!ours(entry, key)) {
        return false;
      }
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        Optional<List<Condition>> next = EntryStatus.enrolled(conditions(entry), clock.instant());
        if (next.isEmpty() || writeStatus(entry, next.get())) {
          clear(key);
          return isEntry(entry);
        }
        entry = fresh(entry);
        if (entry == null) {
          return false;
        }
      }
      report(key, "the entry kept changing under us (" + ATTEMPTS + " conflicts) while registering it");
      return true;
    } catch (KubernetesClientException e) {
      report(key, writeFailure(e, namespace));
    } catch (ClusterReads.Problem e) {
      report(key, e.getMessage());
    }
    return false;
  }

  /** The name of the VM's entry when there is one of the service's, for its bundle (ISTIO_META_WORKLOAD_ENTRY). */
  Optional<String> entryOf(String namespace, String group, String machineId) {
    String name = EntryPlan.name(group, machineId);
    try {
      GenericKubernetesResource entry = cache.get(namespace, name);
      return entry != null && managed(entry) ? Optional.of(name) : Optional.empty();
    } catch (KubernetesClientException e) {
      return Optional.empty(); // the bundle goes out without the name; the entry is made at the first report
    }
  }

  @Override
  public Map<String, String> problems() {
    return new TreeMap<>(reported);
  }

  /**
   * The VM leaves (its package removed): its entry is deleted. Reports of it received until now are dropped (the
   * agent's STOPPING report arrives just before), and a write of it in progress is waited for, so that nothing brings
   * the entry back; a report received later (a reinstalled agent) registers it again.
   */
  @Override
  public Deregistration deregister(String namespace, String group, String machineId) {
    String name = EntryPlan.name(group, machineId);
    String key = namespace + "/" + name;
    Instant now = clock.instant();
    deregistered.values().removeIf(at -> at.isBefore(now.minus(EntryStatus.LIVENESS)));
    deregistered.put(key, now);
    pending.remove(key);
    long deadline = System.nanoTime() + WRITE_WAIT.toNanos();
    try {
      while (writing.contains(key) && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Deregistration.Unavailable("the service is stopping");
    }
    try {
      GenericKubernetesResource entry = find(namespace, name);
      if (entry != null && !managed(entry)) {
        return new Deregistration.Absent(); // someone else's: left alone
      }
      boolean deleted = !client.genericKubernetesResources(ENTRIES).inNamespace(namespace).withName(name).delete()
          .isEmpty();
      deleted |= leases.get(namespace, name) != null && !client.genericKubernetesResources(LEASES)
          .inNamespace(namespace).withName(name).delete().isEmpty();
      cache.deleted(namespace, name);
      leases.deleted(namespace, name);
      reported.remove(key);
      return deleted ? new Deregistration.Removed() : new Deregistration.Absent();
    } catch (KubernetesClientException e) {
      return new Deregistration.Unavailable(ClusterReads.failure(e, "delete workloadentries in " + namespace)
          .getMessage());
    }
  }

  /** The informer over the state Leases of VMs in groups istiod registers (for the fleet view). */
  EntryCache leaseCache() {
    return leases;
  }

  /** Whether every report taken has been written (or failed); tests wait for it instead of sleeping. */
  boolean idle() {
    return pending.isEmpty() && dirty.isEmpty() && busy.get() == 0;
  }

  @Override
  public void close() {
    closed.set(true);
    workers.forEach(Thread::interrupt);
    cache.close();
    leases.close();
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

  /** Creates the entry when missing, then brings its conditions in step; a conflict is read again. */
  private void write(Pending p) {
    String name = EntryPlan.name(p.group(), p.machineId());
    String key = p.key();
    Instant gone = deregistered.get(key);
    if (gone != null) {
      if (!p.receivedAt().isAfter(gone)) {
        return; // sent before the VM left
      }
      deregistered.remove(key, gone);
    }
    try {
      GenericKubernetesResource entry = find(p.namespace(), name);
      for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (entry == null) {
          List<String> addresses = p.report().host() == null ? List.of() : p.report().host().addresses();
          Optional<GenericKubernetesResource> created = create(p.namespace(), p.group(), p.machineId(), addresses,
              key);
          if (created.isEmpty()) {
            return;
          }
          entry = created.get();
        }
        if (!ours(entry, key)) {
          return;
        }
        Instant now = clock.instant();
        Optional<List<Condition>> next = EntryStatus.afterReport(conditions(entry), p.report(), p.receivedAt(), now,
            EntryStatus.phase(key));
        if (next.isEmpty() || writeStatus(entry, next.get())) {
          clear(key);
          return;
        }
        entry = fresh(entry);
      }
      report(key, "the entry kept changing under us (" + ATTEMPTS + " conflicts); the next report tries again");
    } catch (KubernetesClientException e) {
      report(key, writeFailure(e, p.namespace()));
    } catch (ClusterReads.Problem e) {
      report(key, e.getMessage());
    }
  }

  /**
   * For the sweep: writes {@code conditions} on {@code entry} as it was read; false when it changed meanwhile (the
   * next sweep looks again) or the write failed (reported).
   */
  boolean writeIfUnchanged(GenericKubernetesResource entry, List<Condition> conditions) {
    String key = entry.getMetadata().getNamespace() + "/" + entry.getMetadata().getName();
    try {
      return writeStatus(entry, conditions);
    } catch (KubernetesClientException e) {
      report(key, writeFailure(e, entry.getMetadata().getNamespace()));
      return false;
    }
  }

  /** Deletes the entry; false when it could not (reported). An entry already gone counts as deleted. */
  boolean delete(String namespace, String name) {
    try {
      client.genericKubernetesResources(ENTRIES).inNamespace(namespace).withName(name).delete();
      cache.deleted(namespace, name);
      clear(namespace + "/" + name);
      return true;
    } catch (KubernetesClientException e) {
      report(namespace + "/" + name, ClusterReads.failure(e, "delete workloadentries in " + namespace)
          .getMessage());
      return false;
    }
  }

  /** Writes {@code conditions} as the entry's, at its resource version; false on a conflict. */
  private boolean writeStatus(GenericKubernetesResource entry, List<Condition> conditions) {
    GenericKubernetesResource copy = client.getKubernetesSerialization().clone(entry);
    List<Map<String, Object>> rendered = conditions.stream().map(EntryRegistry::render).toList();
    try {
      if (isEntry(entry)) {
        Map<String, Object> status = new LinkedHashMap<>(map(entry.getAdditionalProperties().get("status")));
        status.put("conditions", rendered);
        copy.setAdditionalProperty("status", status);
        cache.wrote(client.genericKubernetesResources(ENTRIES).inNamespace(entry.getMetadata().getNamespace())
            .resource(copy).updateStatus());
        return true;
      }
      // A state Lease: the conditions in an annotation, the last seen as its renewal (a plain update).
      copy.getMetadata().getAnnotations().put(EntryPlan.CONDITIONS_ANNOTATION,
          client.getKubernetesSerialization().asJson(rendered));
      Map<String, Object> spec = new LinkedHashMap<>(map(copy.getAdditionalProperties().get("spec")));
      EntryStatus.lastSeen(conditions).ifPresent(t -> spec.put("renewTime", MICRO_TIME.format(t)));
      copy.setAdditionalProperty("spec", spec);
      leases.wrote(client.genericKubernetesResources(LEASES).inNamespace(entry.getMetadata().getNamespace())
          .resource(copy).update());
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false;
      }
      throw e;
    }
  }

  private Optional<GenericKubernetesResource> create(String namespace, String groupName, String machineId,
      List<String> addresses, String key) throws ClusterReads.Problem {
    Optional<Map<String, Object>> group = reads.groupObject(namespace, groupName);
    if (group.isEmpty()) {
      report(key, "no WorkloadGroup " + namespace + "/" + groupName + " to register machine " + machineId + " in");
      return Optional.empty();
    }
    if (EntryPlan.istiodRegisters(group.get())) {
      return createLease(namespace, groupName, machineId, group.get());
    }
    Map<String, Object> meta = map(map(group.get().get("spec")).get("metadata"));
    Object family = map(meta.get("annotations")).get(EntryPlan.FAMILY_ANNOTATION);
    Optional<String> address = EntryPlan.address(addresses == null ? List.of() : addresses,
        family instanceof String f ? f : null);
    if (address.isEmpty()) {
      report(key, "machine " + machineId + " reports no address the mesh could reach (only loopback, link-local or "
          + "none): not registered");
      return Optional.empty();
    }
    GenericKubernetesResource entry = client.getKubernetesSerialization().convertValue(
        EntryPlan.entry(group.get(), machineId, address.get()), GenericKubernetesResource.class);
    try {
      GenericKubernetesResource created = client.genericKubernetesResources(ENTRIES).inNamespace(namespace)
          .resource(entry).create();
      cache.wrote(created);
      log.notice("registered machine " + machineId + " as WorkloadEntry " + key + " at " + address.get());
      return Optional.of(created);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) { // another replica made it meanwhile, or someone else's entry has the name
        return Optional.ofNullable(cache.fresh(namespace, EntryPlan.name(groupName, machineId)));
      }
      throw e;
    }
  }

  /** For a group istiod registers: the VM's state goes in a Lease of its own, never in istiod's entry. */
  private Optional<GenericKubernetesResource> createLease(String namespace, String groupName, String machineId,
      Map<String, Object> group) {
    GenericKubernetesResource lease = client.getKubernetesSerialization().convertValue(
        EntryPlan.stateLease(group, machineId), GenericKubernetesResource.class);
    lease.getMetadata().setAnnotations(new LinkedHashMap<>(Map.of(EntryPlan.CONDITIONS_ANNOTATION, "[]")));
    try {
      GenericKubernetesResource created = client.genericKubernetesResources(LEASES).inNamespace(namespace)
          .resource(lease).create();
      leases.wrote(created);
      log.notice("machine " + machineId + " of " + namespace + "/" + groupName + " (registered by istiod): its "
          + "state is kept in Lease " + namespace + "/" + lease.getMetadata().getName());
      return Optional.of(created);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return Optional.ofNullable(leases.fresh(namespace, EntryPlan.name(groupName, machineId)));
      }
      throw e;
    }
  }

  /** The VM's object: its WorkloadEntry, else the Lease that keeps its state; null when it has neither. */
  private GenericKubernetesResource find(String namespace, String name) {
    GenericKubernetesResource entry = cache.get(namespace, name);
    return entry != null ? entry : leases.get(namespace, name);
  }

  private GenericKubernetesResource fresh(GenericKubernetesResource o) {
    return (isEntry(o) ? cache : leases).fresh(o.getMetadata().getNamespace(), o.getMetadata().getName());
  }

  private static boolean isEntry(GenericKubernetesResource o) {
    return !"Lease".equals(o.getKind());
  }

  /** Whether the entry is the service's to write; one that is not is reported, never touched. */
  private boolean ours(GenericKubernetesResource entry, String key) {
    if (managed(entry)) {
      return true;
    }
    report(key, "a WorkloadEntry of that name exists and is not the service's (no label " + EntryPlan.MANAGED_BY
        + "=" + EntryPlan.MANAGER + "): left alone; delete it or rename it to register the VM");
    return false;
  }

  private static boolean managed(GenericKubernetesResource entry) {
    Map<String, String> labels = entry.getMetadata().getLabels();
    return labels != null && EntryPlan.MANAGER.equals(labels.get(EntryPlan.MANAGED_BY));
  }

  private static String writeFailure(KubernetesClientException e, String namespace) {
    return ClusterReads.failure(e, "get, create and update workloadentries (and workloadentries/status) in "
        + namespace).getMessage();
  }

  static List<Condition> conditions(GenericKubernetesResource entry) {
    Object list = map(entry.getAdditionalProperties().get("status")).get("conditions");
    if (!isEntry(entry)) {
      String json = entry.getMetadata().getAnnotations() == null ? null
          : entry.getMetadata().getAnnotations().get(EntryPlan.CONDITIONS_ANNOTATION);
      try {
        list = json == null ? List.of() : JSON.readValue(json, List.class);
      } catch (java.io.IOException e) {
        list = List.of(); // garbled by someone: written anew at the next transition
      }
    }
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

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();
  /** A Lease's renewTime: Kubernetes' MicroTime, RFC 3339 with six fractional digits. */
  private static final java.time.format.DateTimeFormatter MICRO_TIME = java.time.format.DateTimeFormatter
      .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(java.time.ZoneOffset.UTC);

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
