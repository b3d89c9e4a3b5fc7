package io.istiovmagent.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * P7's sidecar flips paired with the API server's status writes (issue 15: from "the agent saw the sidecar die" to
 * "the entry's Healthy condition is False", p99 at most 2 s; and from "the agent saw it back" to True). A flip's
 * instants are its agent's wall clock, a write's its arrival at the mock API server: one machine, one clock. Pure.
 */
final class FlipDelays {
  /** Not seen, or never written. */
  static final long NONE = -1;

  /**
   * One flip as its agent recorded it ({@code flips-N} in the work directory, one per line): its entry
   * ({@code NAMESPACE/NAME}), when it saw its sidecar dead and when it saw it back, ready (epoch ms; {@link #NONE}
   * when it did not: an agent without a bundle has no sidecar to lose, and a flip may end after the run).
   */
  record Flip(String entry, long deadAt, long backAt) {
    /** {@code ENTRY DEAD-AT BACK-AT}. */
    String line() {
      return entry + " " + deadAt + " " + backAt;
    }

    static Flip parse(String line) {
      String[] f = line.strip().split(" ");
      if (f.length != 3) {
        throw new IllegalArgumentException("not ENTRY DEAD-AT BACK-AT: " + line);
      }
      return new Flip(f[0], Long.parseLong(f[1]), Long.parseLong(f[2]));
    }
  }

  /** A WorkloadEntry status write the API server answered 2xx, as {@code status-writes.log} has it (ApiCounter). */
  record Write(long arrivedAt, String entry, String healthyStatus) {
    /** {@code EPOCH-MS KIND NAMESPACE/NAME HEALTHY-STATUS/REASON ...}; null for a line that is not one. */
    static Write parse(String line) {
      String[] f = line.split(" ", 5);
      if (f.length < 4) {
        return null;
      }
      try {
        int slash = f[3].indexOf('/');
        return new Write(Long.parseLong(f[0]), f[2], slash < 0 ? f[3] : f[3].substring(0, slash));
      } catch (NumberFormatException e) {
        return null;
      }
    }
  }

  /**
   * A flip and its delays in ms: seen dead to the first write saying False, seen back to True; NONE if none.
   * {@code serving}: its entry's last write before the death said True (the VM was in traffic, so a write had to take
   * it out); an entry still False from its registration, or from a report that failed, had nothing to make False.
   */
  record Paired(Flip flip, boolean serving, long toFalse, long toTrue) {}

  /** One direction's delays in ms over the flips that were seen, and how many of them got no write. */
  record Delays(long[] millis, int missing) {
    int count() {
      return millis.length;
    }

    /** Nearest rank, as every other percentile of the fleet's figures; NaN when there is none. */
    double percentile(double p) {
      return FleetStats.percentile(millis, p);
    }
  }

  private FlipDelays() {}

  /**
   * Each flip with its writes. The write taking a VM out is the first of its entry saying {@code Healthy} False that
   * arrived from the moment the agent saw the death until it saw the sidecar back (whatever its reason: that is when
   * the mesh stops routing to it). The write putting it back is the first saying True from the moment it saw the
   * sidecar back. Writes from {@code until} on (the outage) are not the flips': a flip that got none before is
   * missing.
   */
  static List<Paired> pair(List<Flip> flips, List<Write> writes, long until) {
    Map<String, List<Write>> byEntry = new HashMap<>();
    for (Write w : writes) {
      if (w.arrivedAt() < until) {
        byEntry.computeIfAbsent(w.entry(), k -> new ArrayList<>()).add(w);
      }
    }
    // The log's lines are written in the order the mock finished the requests, which two event loops may swap.
    byEntry.values().forEach(l -> l.sort(Comparator.comparingLong(Write::arrivedAt)));
    List<Paired> out = new ArrayList<>();
    for (Flip f : flips) {
      List<Write> ws = byEntry.getOrDefault(f.entry(), List.of());
      long toFalse = NONE;
      long toTrue = NONE;
      boolean serving = false;
      if (f.deadAt() != NONE) {
        for (Write w : ws) {
          if (w.arrivedAt() < f.deadAt()) {
            serving = "True".equals(w.healthyStatus());
          }
        }
        long falseBy = f.backAt() == NONE ? until : f.backAt();
        toFalse = first(ws, "False", f.deadAt(), falseBy);
        toTrue = f.backAt() == NONE ? NONE : first(ws, "True", f.backAt(), until);
      }
      out.add(new Paired(f, serving, toFalse, toTrue));
    }
    return out;
  }

  /** Ms from {@code from} to the first write saying {@code healthy} in [from, to); NONE if there is none. */
  private static long first(List<Write> ws, String healthy, long from, long to) {
    for (Write w : ws) {
      if (w.arrivedAt() >= from && w.arrivedAt() < to && healthy.equals(w.healthyStatus())) {
        return w.arrivedAt() - from;
      }
    }
    return NONE;
  }

  /** Seen dead -> False, over the flips whose agent saw the death while its VM was serving. */
  static Delays toFalse(List<Paired> paired) {
    return delays(paired, true);
  }

  /** Seen back -> True, over the flips whose agent saw the sidecar back. */
  static Delays toTrue(List<Paired> paired) {
    return delays(paired, false);
  }

  private static Delays delays(List<Paired> paired, boolean toFalse) {
    long[] ms = new long[paired.size()];
    int n = 0;
    int missing = 0;
    for (Paired p : paired) {
      long seen = toFalse ? p.flip().deadAt() : p.flip().backAt();
      long d = toFalse ? p.toFalse() : p.toTrue();
      if (seen == NONE || toFalse && !p.serving()) {
        continue;
      }
      if (d == NONE) {
        missing++;
      } else {
        ms[n++] = d;
      }
    }
    return new Delays(Arrays.copyOf(ms, n), missing);
  }
}
