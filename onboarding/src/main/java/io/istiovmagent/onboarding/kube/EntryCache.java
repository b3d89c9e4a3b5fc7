package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.util.Log;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * The service's WorkloadEntries as the API server last told it: an informer over every namespace, on the label the
 * service puts on its entries, so that a report costs no read. Until the informer has its first list (or when it
 * may not list: RBAC), a read goes to the API server. What this replica wrote itself is remembered until the
 * informer shows that write, so the next report of the same VM never works from the copy before it; the API server
 * may send a write's watch event before its answer (fabric8's mock always does), so a write the informer already
 * holds is not remembered, and none is trusted for longer than {@link #OWN_WRITE}: an older copy than the informer's
 * would be written over a newer state (a stale resource version: 409 from a real API server, accepted by the mock).
 */
final class EntryCache implements AutoCloseable {
  /** The longest an own write is preferred to the informer's copy: its watch event takes milliseconds. */
  static final Duration OWN_WRITE = Duration.ofSeconds(5);

  private record Mine(GenericKubernetesResource entry, long atNanos) {}

  private final KubernetesClient client;
  private final ResourceDefinitionContext kind;
  private final Log log;
  private final LongSupplier nanos;
  private final SharedIndexInformer<GenericKubernetesResource> informer;
  /** Our own writes not yet seen by the informer, by {@code NAMESPACE/NAME}. */
  private final Map<String, Mine> written = new ConcurrentHashMap<>();
  private final AtomicReference<String> problem = new AtomicReference<>();

  EntryCache(KubernetesClient client, Log log) {
    this(client, EntryRegistry.ENTRIES, log, System::nanoTime);
  }

  /** Over the service's objects of {@code kind}: WorkloadEntries, or the Leases of istiod-registered VMs. */
  EntryCache(KubernetesClient client, ResourceDefinitionContext kind, Log log) {
    this(client, kind, log, System::nanoTime);
  }

  EntryCache(KubernetesClient client, Log log, LongSupplier nanos) {
    this(client, EntryRegistry.ENTRIES, log, nanos);
  }

  EntryCache(KubernetesClient client, ResourceDefinitionContext kind, Log log, LongSupplier nanos) {
    this.client = client;
    this.kind = kind;
    this.log = log;
    this.nanos = nanos;
    this.informer = client.genericKubernetesResources(kind).inAnyNamespace()
        .withLabel(EntryPlan.MANAGED_BY, EntryPlan.MANAGER).runnableInformer(0);
    informer.addEventHandler(new ResourceEventHandler<>() {
      @Override
      public void onAdd(GenericKubernetesResource e) {
        seen(e);
      }

      @Override
      public void onUpdate(GenericKubernetesResource old, GenericKubernetesResource e) {
        seen(e);
      }

      @Override
      public void onDelete(GenericKubernetesResource e, boolean finalStateUnknown) {
        written.remove(key(e));
      }
    });
    informer.exceptionHandler((started, t) -> {
      String why = KubernetesMode.cause(t);
      if (!why.equals(problem.getAndSet(why))) {
        log.warn("cannot watch " + kind.getPlural() + " in all namespaces (list and watch " + kind.getPlural()
            + ", cluster-wide): " + why + "; each report reads its object instead, and the fleet view lacks them "
            + "until it can");
      }
      return true; // the informer retries with its own backoff
    });
    informer.start().whenComplete((ok, t) -> {
      if (t == null && problem.getAndSet(null) != null) {
        log.notice("watching " + kind.getPlural() + " again");
      }
    });
  }

  /**
   * The entry, or null when there is none: our own last write, else the informer's copy once it has listed, else a
   * read. A {@link io.fabric8.kubernetes.client.KubernetesClientException} says the API could not be asked.
   */
  GenericKubernetesResource get(String namespace, String name) {
    String key = namespace + "/" + name;
    Mine mine = written.get(key);
    if (mine != null) {
      if (nanos.getAsLong() - mine.atNanos() < OWN_WRITE.toNanos()) {
        return mine.entry();
      }
      written.remove(key, mine);
    }
    if (informer.hasSynced()) {
      return informer.getStore().getByKey(namespace + "/" + name);
    }
    return fresh(namespace, name);
  }

  /** The entry as the API server has it now, after a conflict. */
  GenericKubernetesResource fresh(String namespace, String name) {
    written.remove(namespace + "/" + name);
    return client.genericKubernetesResources(kind).inNamespace(namespace).withName(name).get();
  }

  /** Remembers what this replica just wrote (the API server's answer), unless the informer has shown it already. */
  void wrote(GenericKubernetesResource entry) {
    String key = key(entry);
    Mine mine = new Mine(entry, nanos.getAsLong());
    written.put(key, mine);
    // After the put: an event handled meanwhile removes it in seen(), one handled before shows in the store.
    GenericKubernetesResource shown = informer.hasSynced() ? informer.getStore().getByKey(key) : null;
    if (shown != null && sameVersion(shown, entry)) {
      written.remove(key, mine);
    }
  }

  /** Forgets an entry this replica deleted. */
  void deleted(String namespace, String name) {
    written.remove(namespace + "/" + name);
  }

  /** Every entry of the service's, as the informer has them; empty until it has listed. */
  List<GenericKubernetesResource> all() {
    return informer.hasSynced() ? informer.getStore().list() : List.of();
  }

  boolean synced() {
    return informer.hasSynced();
  }

  /** Why the informer cannot list or watch now, if it cannot. */
  Optional<String> problem() {
    return Optional.ofNullable(problem.get());
  }

  @Override
  public void close() {
    informer.stop();
  }

  private void seen(GenericKubernetesResource e) {
    written.computeIfPresent(key(e), (k, mine) -> sameVersion(mine.entry(), e) ? null : mine);
  }

  private static boolean sameVersion(GenericKubernetesResource a, GenericKubernetesResource b) {
    return Objects.equals(a.getMetadata().getResourceVersion(), b.getMetadata().getResourceVersion());
  }

  private static String key(GenericKubernetesResource e) {
    return e.getMetadata().getNamespace() + "/" + e.getMetadata().getName();
  }
}
