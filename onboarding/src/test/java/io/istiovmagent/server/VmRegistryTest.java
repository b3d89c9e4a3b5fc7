package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the registry keeps: bounded history, a bounded number of VMs, groups kept apart, capped strings. */
class VmRegistryTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  @Test
  void keepsOnlyTheLastReportsOfEachVm() {
    VmRegistry r = new VmRegistry(10, 3);
    for (int i = 1; i <= 5; i++) {
      r.record(report("ns", "g", "m-1", i, List.of()), T0.plusSeconds(i));
    }
    List<VmRegistry.HistoryEntry> h = r.history(new VmRegistry.Key("ns", "g", "m-1"));
    assertEquals(List.of(3L, 4L, 5L), h.stream().map(VmRegistry.HistoryEntry::sequence).toList());
  }

  @Test
  void forgetsTheVmSeenLongestAgoWhenFull() {
    VmRegistry r = new VmRegistry(2, 5);
    r.record(report("ns", "g", "a", 1, List.of()), T0);
    r.record(report("ns", "g", "b", 1, List.of()), T0.plusSeconds(1));
    r.record(report("ns", "g", "a", 2, List.of()), T0.plusSeconds(2)); // a is now the most recent
    Optional<VmRegistry.Key> forgotten = r.record(report("ns", "g", "c", 1, List.of()), T0.plusSeconds(3));

    assertEquals(Optional.of(new VmRegistry.Key("ns", "g", "b")), forgotten);
    assertEquals(List.of("a", "c"), r.summaries(T0.plusSeconds(3)).stream().map(VmSummary::machineId).toList());
  }

  @Test
  void theSameMachineIdInTwoGroupsIsTwoVms() {
    VmRegistry r = new VmRegistry(10, 5);
    r.record(report("ns", "g1", "m-1", 1, List.of()), T0);
    r.record(report("ns", "g2", "m-1", 1, List.of()), T0);
    assertEquals(2, r.size(), "a token for one group cannot overwrite another group's VM");
  }

  @Test
  void capsReasonsAndLongStrings() {
    VmRegistry r = new VmRegistry(10, 5);
    List<String> reasons = new ArrayList<>(Collections.nCopies(30, "x".repeat(1000)));
    r.record(report("ns", "g", "m-1", 1, reasons), T0);
    VmSummary s = r.summaries(T0.plus(Duration.ofSeconds(1))).get(0);
    assertEquals(VmRegistry.MAX_REASONS + 1, s.reasons().size());
    assertEquals("... 10 more", s.reasons().get(VmRegistry.MAX_REASONS));
    assertTrue(s.reasons().get(0).length() <= VmRegistry.MAX_TEXT + 3);
  }

  private static HealthReport report(String ns, String group, String machineId, long seq, List<String> reasons) {
    return new HealthReport(1, "HEALTHY", reasons, "2026-11-25T12:00:00Z", seq, null,
        new HealthReport.Host("vm", machineId, List.of()), new HealthReport.Workload(ns, "sa", group, null, null),
        null, null, List.of());
  }
}
