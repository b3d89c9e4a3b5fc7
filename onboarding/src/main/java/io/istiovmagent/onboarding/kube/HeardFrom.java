package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.istiovmagent.onboarding.mesh.SweepPlan;
import io.istiovmagent.util.Log;
import java.net.HttpURLConnection;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * When the replicas last heard from each VM, shared through the API server at a cost that does not grow with the
 * fleet: each replica keeps what it heard since its last flush and writes it, every few seconds, as one ConfigMap of
 * its own ({@code istio-vm-onboarding-seen-REPLICA} in the service's namespace, a line {@code NAMESPACE/ENTRY
 * EPOCH-SECONDS HEARTBEAT-SECONDS} per VM); every replica watches all of them and keeps the latest per VM. So the
 * elected one can tell a silent VM within a few heartbeats, whichever replica its reports reached, while a
 * VM's WorkloadEntry is written only on transitions and once per 10 minutes.
 */
final class HeardFrom implements AutoCloseable {
  static final String COMPONENT = "app.kubernetes.io/component";
  static final String COMPONENT_VALUE = "vm-last-seen";
  static final String PREFIX = "istio-vm-onboarding-seen-";
  static final String KEY = "seen";
  static final String FLUSHED_AT = "flushed-at";
  /** VMs per record: at ~120 bytes a line (long names), well within a ConfigMap's 1 MiB. */
  static final int MAX_LINES = 6000;

  private final KubernetesClient client;
  private final String namespace;
  private final String replica;
  private final Log log;
  /** Heard by this replica since its last successful flush. */
  private final Map<String, SweepPlan.Seen> unflushed = new ConcurrentHashMap<>();
  /** The latest heard by any replica. */
  private final Map<String, SweepPlan.Seen> latest = new ConcurrentHashMap<>();
  private final SharedIndexInformer<ConfigMap> informer;
  private final AtomicReference<String> problem = new AtomicReference<>();

  HeardFrom(KubernetesClient client, String namespace, String replica, Log log) {
    this.client = client;
    this.namespace = namespace;
    this.replica = replica;
    this.log = log;
    this.informer = client.configMaps().inNamespace(namespace).withLabel(COMPONENT, COMPONENT_VALUE)
        .runnableInformer(0);
    informer.addEventHandler(new ResourceEventHandler<>() {
      @Override
      public void onAdd(ConfigMap cm) {
        merge(cm);
      }

      @Override
      public void onUpdate(ConfigMap old, ConfigMap cm) {
        merge(cm);
      }

      @Override
      public void onDelete(ConfigMap cm, boolean finalStateUnknown) {}
    });
    informer.exceptionHandler((started, t) -> {
      report("cannot watch the replicas' last-seen records (list and watch configmaps in " + namespace + "): "
          + KubernetesMode.cause(t));
      return true;
    });
    informer.start();
  }

  /** A report from the VM of entry {@code key} ({@code NAMESPACE/ENTRY}) reached this replica. */
  void heard(String key, Instant at, long heartbeatSeconds) {
    SweepPlan.Seen s = new SweepPlan.Seen(at, heartbeatSeconds);
    unflushed.merge(key, s, HeardFrom::later);
    latest.merge(key, s, HeardFrom::later);
  }

  /** The latest any replica heard, per entry. */
  Map<String, SweepPlan.Seen> latest() {
    return Map.copyOf(latest);
  }

  /** Forgets an entry that is gone. */
  void forget(String key) {
    latest.remove(key);
    unflushed.remove(key);
  }

  /** Whether this replica has all the replicas' records (its informer has listed them). */
  boolean listening() {
    return informer.hasSynced();
  }

  /** Writes what this replica heard since its last flush, if anything; kept for the next flush if it cannot. */
  void flush(Instant now) {
    if (unflushed.isEmpty()) {
      return;
    }
    Map<String, SweepPlan.Seen> batch = new HashMap<>(unflushed);
    List<Map.Entry<String, SweepPlan.Seen>> sorted = batch.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .toList();
    // A ConfigMap holds at most 1 MiB: a large fleet's flush is spread over several, -1, -2... beside the first.
    for (int chunk = 0; chunk * MAX_LINES < sorted.size(); chunk++) {
      StringBuilder lines = new StringBuilder();
      for (Map.Entry<String, SweepPlan.Seen> e : sorted.subList(chunk * MAX_LINES,
          Math.min(sorted.size(), (chunk + 1) * MAX_LINES))) {
        lines.append(e.getKey()).append(' ').append(e.getValue().at().getEpochSecond()).append(' ')
            .append(e.getValue().heartbeatSeconds()).append('\n');
      }
      String name = PREFIX + replica + (chunk == 0 ? "" : "-" + chunk);
      ConfigMap cm = new ConfigMapBuilder().withNewMetadata().withName(name).withNamespace(namespace)
          .addToLabels(COMPONENT, COMPONENT_VALUE).addToLabels("app.kubernetes.io/managed-by", "istio-vm-onboarding")
          .endMetadata().addToData(KEY, lines.toString()).addToData(FLUSHED_AT, now.toString()).build();
      try {
        write(cm);
      } catch (KubernetesClientException e) {
        report("cannot write this replica's last-seen record " + namespace + "/" + name + " (create and update "
            + "configmaps in " + namespace + "): " + ClusterReads.failure(e, "write configmaps in " + namespace)
            .getMessage());
        return; // kept for the next flush
      }
    }
    batch.forEach((k, v) -> unflushed.remove(k, v));
    if (problem.getAndSet(null) != null) {
      log.notice("writing this replica's last-seen record again");
    }
  }

  /**
   * Writes a record: one PUT over the version this replica's informer holds of it (its own last write); a record
   * not there yet, or changed or deleted meanwhile (409, 404), as fabric8's {@code createOr} does (a POST, and when
   * it exists a GET and a PUT), so that a steady replica does not send a POST answered 409 every flush.
   */
  private void write(ConfigMap cm) {
    ConfigMap known = informer.getStore().getByKey(namespace + "/" + cm.getMetadata().getName());
    if (known != null) {
      cm.getMetadata().setResourceVersion(known.getMetadata().getResourceVersion());
      try {
        client.configMaps().inNamespace(namespace).resource(cm).update();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != HttpURLConnection.HTTP_CONFLICT && e.getCode() != HttpURLConnection.HTTP_NOT_FOUND) {
          throw e;
        }
        cm.getMetadata().setResourceVersion(null);
      }
    }
    client.configMaps().inNamespace(namespace).resource(cm).createOr(existing -> existing.update());
  }

  /** Whether this replica's informer holds the record {@code name} (tests wait for it). */
  boolean holds(String name) {
    return informer.getStore().getByKey(namespace + "/" + name) != null;
  }

  /** Deletes the records of replicas that have written nothing since {@code before} (gone for good). */
  void deleteStale(Instant before) {
    for (ConfigMap cm : informer.hasSynced() ? informer.getStore().list() : List.<ConfigMap>of()) {
      Instant at = flushedAt(cm);
      if (at != null && at.isBefore(before) && !cm.getMetadata().getName().equals(PREFIX + replica)) {
        try {
          client.configMaps().inNamespace(namespace).withName(cm.getMetadata().getName()).delete();
          log.info("deleted the last-seen record of a replica gone since " + at + ": " + cm.getMetadata().getName());
        } catch (KubernetesClientException e) {
          report("cannot delete the stale last-seen record " + cm.getMetadata().getName() + ": "
              + KubernetesMode.cause(e));
        }
      }
    }
  }

  @Override
  public void close() {
    informer.stop();
  }

  private void merge(ConfigMap cm) {
    String text = cm.getData() == null ? null : cm.getData().get(KEY);
    if (text == null) {
      return;
    }
    for (String line : text.split("\n")) {
      String[] f = line.split(" ");
      if (f.length != 3) {
        continue;
      }
      try {
        latest.merge(f[0], new SweepPlan.Seen(Instant.ofEpochSecond(Long.parseLong(f[1])), Long.parseLong(f[2])),
            HeardFrom::later);
      } catch (NumberFormatException | java.time.DateTimeException e) {
        // another writer's garbage: not ours to judge by
      }
    }
  }

  private static Instant flushedAt(ConfigMap cm) {
    try {
      return cm.getData() == null || cm.getData().get(FLUSHED_AT) == null ? null
          : Instant.parse(cm.getData().get(FLUSHED_AT));
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private static SweepPlan.Seen later(SweepPlan.Seen a, SweepPlan.Seen b) {
    return b.at().isAfter(a.at()) ? b : a;
  }

  private void report(String why) {
    if (!why.equals(problem.getAndSet(why))) {
      log.warn(why);
    }
  }
}
