package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SweepPlanTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final Duration TTL = Duration.ofHours(24);
  private static final Duration SLACK = Duration.ofSeconds(15);

  private static List<Condition> reported(String status, String state, long heartbeat, Instant at) {
    HealthReport r = new HealthReport(1, status, List.of(), at.toString(), 1L,
        new HealthReport.Agent("0.1.0", at.toString(), heartbeat), null, null, null,
        new HealthReport.Sidecar(state, true, 0L, 1L, false, List.of()), List.of());
    return EntryStatus.afterReport(List.of(), r, at, at, Duration.ZERO).orElseThrow();
  }

  /**
   * recorded: when the entry's liveness says the VM was seen (s after T0); heard: when a replica heard it (s after
   * T0, or none); listening: since when this replica has listened; now: s after T0.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "heard recently | HEALTHY | 60 | 0 | 500 | 0 | 600 | none",
      "heard 195 s ago, 3 x 60 + 15 allowed | HEALTHY | 60 | 0 | 405 | 0 | 600 | none",
      "heard 196 s ago | HEALTHY | 60 | 0 | 404 | 0 | 600 | MarkSilent",
      "not heard, only the liveness of 10 min ago | HEALTHY | 60 | 0 | none | 0 | 600 | MarkSilent",
      "not heard, but just took over: wait | HEALTHY | 60 | 0 | none | 500 | 600 | none",
      "took over long enough ago | HEALTHY | 60 | 0 | none | 300 | 600 | MarkSilent",
      "short heartbeat: silent sooner | HEALTHY | 5 | 0 | 560 | 0 | 600 | MarkSilent",
      "stopping: left as it is | STOPPING | 60 | 0 | none | 0 | 600 | none",
      "silent past the TTL | HEALTHY | 60 | 0 | none | 0 | 86401 | Delete",
      "heard just now though recorded a day ago | HEALTHY | 60 | 0 | 86300 | 0 | 86401 | none",
  })
  void decides(String what, String status, long heartbeat, long recorded, String heard, long listening, long now,
      String action) {
    SweepPlan.Entry e = new SweepPlan.Entry("bar", "foo-m1", "m1", T0.minusSeconds(5),
        reported(status, "active/running", heartbeat, T0.plusSeconds(recorded)));
    Map<String, SweepPlan.Seen> seen = heard.equals("none") ? Map.of()
        : Map.of("bar/foo-m1", new SweepPlan.Seen(T0.plusSeconds(Long.parseLong(heard)), heartbeat));
    List<SweepPlan.Action> plan = SweepPlan.plan(List.of(e), seen, T0.plusSeconds(listening), Duration.ZERO,
        SLACK, TTL,
        T0.plusSeconds(now));
    assertEquals(action, plan.isEmpty() ? "none" : plan.get(0).getClass().getSimpleName(), what);
  }

  @ParameterizedTest(name = "enrolled, never reported, for {0} s")
  @CsvSource({"3600, none", "86401, Delete"})
  void anEnrolledVmThatNeverReportsIsLeftUntilTheTtl(long after, String action) {
    SweepPlan.Entry e = new SweepPlan.Entry("bar", "foo-m1", "m1", T0, EntryStatus.enrolled(List.of(), T0)
        .orElseThrow());
    List<SweepPlan.Action> plan = SweepPlan.plan(List.of(e), Map.of(), T0, Duration.ZERO, SLACK, TTL,
        T0.plusSeconds(after));
    assertEquals(action, plan.isEmpty() ? "none" : plan.get(0).getClass().getSimpleName());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"already silent"})
  void silenceIsMarkedOnce(String what) {
    List<Condition> cs = reported("HEALTHY", "active/running", 60, T0);
    List<Condition> silent = EntryStatus.silent(cs, T0, T0.plusSeconds(300)).orElseThrow();
    SweepPlan.Entry e = new SweepPlan.Entry("bar", "foo-m1", "m1", T0, silent);
    assertEquals(List.of(), SweepPlan.plan(List.of(e), Map.of(), T0, Duration.ZERO, SLACK, TTL,
        T0.plusSeconds(400)), what);
    SweepPlan.Entry fresh = new SweepPlan.Entry("bar", "foo-m1", "m1", T0, cs);
    SweepPlan.Action a = SweepPlan.plan(List.of(fresh), Map.of(), T0, Duration.ZERO, SLACK, TTL,
        T0.plusSeconds(400)).get(0);
    assertEquals("AgentSilent", Condition.find(assertInstanceOf(SweepPlan.Action.MarkSilent.class, a).conditions(),
        Condition.HEALTHY).orElseThrow().reason());
  }

  /** After an outage of the whole service: no VM is judged silent before the agents' backoff could bring it back. */
  @ParameterizedTest(name = "restarted {0} s ago")
  @CsvSource({"210, none", "329, none", "331, MarkSilent"})
  void aRestartedServiceListensForTheAgentsBackoffFirst(long since, String action) {
    Instant now = T0.plusSeconds(1000);
    SweepPlan.Entry e = new SweepPlan.Entry("bar", "foo-m1", "m1", T0, reported("HEALTHY", "active/running", 60,
        T0));
    List<SweepPlan.Action> plan = SweepPlan.plan(List.of(e), Map.of(), now.minusSeconds(since),
        Duration.ofSeconds(330), SLACK, TTL, now);
    assertEquals(action, plan.isEmpty() ? "none" : plan.get(0).getClass().getSimpleName());
  }
}
