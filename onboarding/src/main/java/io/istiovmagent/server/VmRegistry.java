package io.istiovmagent.server;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The VMs that reported: each one's latest report and a short history, in memory and bounded. Only what the VM
 * list needs is kept, with strings capped, so a full registry costs a known amount of memory. When it holds the
 * most VMs it may, the one seen longest ago is forgotten.
 */
final class VmRegistry {
  static final String STALE = "STALE";
  /** How many heartbeats may be missed before a VM counts as stale. */
  static final int MISSED_HEARTBEATS = 3;
  static final int MAX_REASONS = 20;
  static final int MAX_TEXT = 256;

  /** A VM within its workload group: keyed by machine-id (else host name), so one group cannot touch another's. */
  record Key(String namespace, String group, String id) {
    static Key of(HealthReport r) {
      HealthReport.Host h = r.host();
      String id = h.machineId() != null && !h.machineId().isBlank() ? h.machineId() : h.hostname();
      return new Key(r.workload().namespace(), r.workload().group(), id);
    }
  }

  /** One past report, enough to tell how a VM's state moved. */
  record HistoryEntry(Instant receivedAt, String observedAt, String status, long sequence, String reasons) {}

  private record Latest(Instant receivedAt, String machineId, String hostname, String status, List<String> reasons,
      String sidecar, Boolean ready, String bundleRevision, long sequence, long heartbeatSeconds) {}

  private static final class Vm {
    Latest latest;
    final ArrayDeque<HistoryEntry> history = new ArrayDeque<>();
  }

  private final int maxVms;
  private final int historyPerVm;
  /** Least recently seen first: every report moves its VM to the end. */
  private final LinkedHashMap<Key, Vm> vms = new LinkedHashMap<>();

  VmRegistry(int maxVms, int historyPerVm) {
    if (maxVms < 1 || historyPerVm < 1) {
      throw new IllegalArgumentException("maxVms and historyPerVm must be at least 1");
    }
    this.maxVms = maxVms;
    this.historyPerVm = historyPerVm;
  }

  /** Keeps an accepted report; returns the VM forgotten to make room for a new one, if any. */
  synchronized Optional<Key> record(HealthReport r, Instant receivedAt) {
    Key key = Key.of(r);
    Vm vm = vms.remove(key);
    if (vm == null) {
      vm = new Vm();
    }
    vms.put(key, vm);
    Optional<Key> forgotten = Optional.empty();
    if (vms.size() > maxVms) {
      Iterator<Map.Entry<Key, Vm>> oldest = vms.entrySet().iterator();
      forgotten = Optional.of(oldest.next().getKey());
      oldest.remove();
    }
    HealthReport.Sidecar sc = r.sidecar();
    HealthReport.Agent agent = r.agent();
    List<String> reasons = reasons(r.reasons());
    vm.latest = new Latest(receivedAt, cap(r.host().machineId()), cap(r.host().hostname()), r.status(), reasons,
        sc == null ? null : cap(sc.state()), sc == null ? null : sc.ready(),
        r.bundle() == null ? null : cap(r.bundle().revision()), r.sequence(),
        agent == null || agent.heartbeatSeconds() == null ? HealthReports.DEFAULT_HEARTBEAT_SECONDS
            : agent.heartbeatSeconds());
    vm.history.addLast(new HistoryEntry(receivedAt, cap(r.observedAt()), r.status(), r.sequence(),
        cap(String.join("; ", reasons))));
    while (vm.history.size() > historyPerVm) {
      vm.history.removeFirst();
    }
    return forgotten;
  }

  /**
   * Every VM as of {@code now}: STALE when no report arrived for {@link #MISSED_HEARTBEATS} heartbeat intervals,
   * unless the last report said STOPPING (an agent that stopped on purpose is not missing).
   */
  synchronized List<VmSummary> summaries(Instant now) {
    List<VmSummary> out = new ArrayList<>(vms.size());
    List<Map.Entry<Key, Vm>> sorted = new ArrayList<>(vms.entrySet());
    sorted.sort(Map.Entry.comparingByKey(Comparator.comparing(Key::namespace).thenComparing(Key::group)
        .thenComparing(Key::id)));
    for (Map.Entry<Key, Vm> e : sorted) {
      Latest l = e.getValue().latest;
      boolean stale = stale(l, now);
      out.add(new VmSummary(l.machineId(), l.hostname(), e.getKey().namespace(), e.getKey().group(),
          stale ? STALE : l.status(), l.reasons(), l.sidecar(), l.ready(), l.bundleRevision(),
          l.receivedAt().truncatedTo(ChronoUnit.SECONDS).toString(), stale, l.sequence()));
    }
    return out;
  }

  /** How many VMs are in each state as of {@code now}, as {@link #summaries} would show them (without the copies). */
  synchronized Map<String, Long> states(Instant now) {
    return VmStates.count(vms.values().stream().map(vm -> stale(vm.latest, now) ? STALE : vm.latest.status()));
  }

  private static boolean stale(Latest l, Instant now) {
    Duration silent = Duration.between(l.receivedAt(), now);
    return !"STOPPING".equals(l.status())
        && silent.compareTo(Duration.ofSeconds(l.heartbeatSeconds()).multipliedBy(MISSED_HEARTBEATS)) > 0;
  }

  /** Forgets the VM and its history (it deregistered); false when it was not kept. */
  synchronized boolean forget(Key key) {
    return vms.remove(key) != null;
  }

  /** The VM's recent reports, oldest first. */
  synchronized List<HistoryEntry> history(Key key) {
    Vm vm = vms.get(key);
    return vm == null ? List.of() : List.copyOf(vm.history);
  }

  synchronized int size() {
    return vms.size();
  }

  private static List<String> reasons(List<String> reasons) {
    if (reasons == null) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (String s : reasons) {
      if (out.size() == MAX_REASONS) {
        out.add("... " + (reasons.size() - MAX_REASONS) + " more");
        break;
      }
      if (s != null) {
        out.add(cap(s));
      }
    }
    return List.copyOf(out);
  }

  private static String cap(String s) {
    return s == null || s.length() <= MAX_TEXT ? s : s.substring(0, MAX_TEXT) + "...";
  }
}
