package io.istiovmagent.server;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The states a VM is counted in for the metrics: the four an agent reports, STALE for one gone silent, UNKNOWN for
 * one with no state yet (or one nobody should have written: an entry is anyone's to edit, and a metric's label must
 * come from a closed set). Pure.
 */
public final class VmStates {
  public static final String STALE = VmRegistry.STALE;
  public static final String UNKNOWN = "UNKNOWN";
  /** Every state, in the order they are listed. */
  public static final List<String> ALL = List.of("HEALTHY", "DEGRADED", "UNHEALTHY", "STOPPING", STALE, UNKNOWN);

  private VmStates() {}

  /** How many of {@code states} are in each state; every state is there, 0 when none is. */
  public static Map<String, Long> count(Stream<String> states) {
    Map<String, Long> n = new LinkedHashMap<>();
    ALL.forEach(s -> n.put(s, 0L));
    states.forEach(s -> n.merge(s != null && n.containsKey(s) ? s : UNKNOWN, 1L, Long::sum));
    return n;
  }
}
