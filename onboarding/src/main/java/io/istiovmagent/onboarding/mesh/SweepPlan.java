package io.istiovmagent.onboarding.mesh;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the elected replica does to the fleet's entries on each sweep: a VM silent for more than
 * {@value HealthVerdict#SILENT_HEARTBEATS} heartbeats is taken out of traffic (both conditions False, reason
 * Silent); a VM silent for longer than the TTL is deleted. "Last seen" is the latest of what any replica reported
 * having heard ({@link Seen}, shared through the API server), the liveness time recorded on the entry, and the entry's
 * creation; silence is judged only after this replica has listened for long enough ({@code listeningSince}), so that
 * a replica that has just started or just took over never takes a VM out for what it has not had time to hear. Pure.
 */
public final class SweepPlan {
  /** Assumed when nothing says how often a VM reports: the agent's default. */
  static final long DEFAULT_HEARTBEAT_SECONDS = 60;

  /** One entry of the service's, as the sweep needs it. */
  public record Entry(String namespace, String name, String machineId, Instant created, List<Condition> conditions) {
    public Entry {
      Objects.requireNonNull(namespace, "namespace == null");
      Objects.requireNonNull(name, "name == null");
      conditions = List.copyOf(conditions);
    }

    public String key() {
      return namespace + "/" + name;
    }
  }

  /** When a replica last heard from a VM, and the VM's heartbeat then. */
  public record Seen(Instant at, long heartbeatSeconds) {}

  /** What to do to one entry. */
  public sealed interface Action {
    Entry entry();

    /** Write these conditions: the VM has gone silent. */
    record MarkSilent(Entry entry, Instant lastSeen, List<Condition> conditions) implements Action {}

    /** Delete the entry: the VM has been silent for longer than the TTL. */
    record Delete(Entry entry, Instant lastSeen) implements Action {}
  }

  private SweepPlan() {}

  /**
   * The actions for {@code entries}, in the order of their keys. {@code seen} is by {@link Entry#key()};
   * {@code slack} covers how late the replicas' records of what they heard can reach this one.
   */
  /**
   * No silence at all is judged before this replica has listened for {@code listenFirst}: after an outage of the
   * whole service the agents come back at their own backoff (up to 5 minutes), not within 3 heartbeats.
   */
  public static List<Action> plan(List<Entry> entries, Map<String, Seen> seen, Instant listeningSince,
      Duration listenFirst, Duration slack, Duration ttl, Instant now) {
    boolean judging = !now.isBefore(listeningSince.plus(listenFirst));
    List<Action> out = new ArrayList<>();
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparing(Entry::key));
    for (Entry e : sorted) {
      Optional<Seen> heard = Optional.ofNullable(seen.get(e.key()));
      Instant last = latest(latest(EntryStatus.lastSeen(e.conditions()).orElse(null), e.created()),
          heard.map(Seen::at).orElse(null));
      if (last == null) {
        continue; // nothing to judge by
      }
      if (Duration.between(last, now).compareTo(ttl) > 0) {
        out.add(new Action.Delete(e, last));
        continue;
      }
      Optional<Condition> healthy = Condition.find(e.conditions(), Condition.HEALTHY);
      String reason = healthy.map(Condition::reason).orElse("");
      if (reason.equals(HealthVerdict.STOPPING) || reason.equals(EntryStatus.ENROLLED)) {
        continue; // out of traffic already, and for a reason that says more than silence would
      }
      long heartbeat = heard.map(Seen::heartbeatSeconds).filter(h -> h > 0)
          .or(() -> Condition.find(e.conditions(), AgentState.TYPE).flatMap(c -> AgentState.parse(c.message()))
              .map(AgentState::heartbeatSeconds).filter(h -> h != null && h > 0))
          .orElse(DEFAULT_HEARTBEAT_SECONDS);
      Duration allowed = Duration.ofSeconds(heartbeat).multipliedBy(HealthVerdict.SILENT_HEARTBEATS).plus(slack);
      Instant judged = latest(last, listeningSince);
      if (judging && Duration.between(judged, now).compareTo(allowed) > 0) {
        EntryStatus.silent(e.conditions(), last, now).ifPresent(cs -> out.add(new Action.MarkSilent(e, last, cs)));
      }
    }
    return out;
  }

  private static Instant latest(Instant a, Instant b) {
    return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
  }
}
