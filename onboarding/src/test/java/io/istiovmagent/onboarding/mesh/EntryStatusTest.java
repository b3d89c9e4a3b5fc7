package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.protocol.HealthReport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EntryStatusTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final String TOKEN_1 = "2026-12-07T11:00:00Z";
  private static final String TOKEN_2 = "2026-12-07T11:30:00Z";

  private static HealthReport report(String status, String state, Boolean ready, long restarts, String token,
      String revision, List<String> reasons) {
    return new HealthReport(1, status, reasons, T0.toString(), 1L,
        new HealthReport.Agent("0.1.0", T0.toString(), 60L), null, null,
        new HealthReport.Bundle("r", revision, "https://x", T0.toString(), token, "2027-12-07T10:00:00Z"),
        new HealthReport.Sidecar(state, ready, restarts, 42L, false, List.of("exit status 1")), List.of());
  }

  private static HealthReport healthy(String token) {
    return report("HEALTHY", "active/running", true, 0, token, "0123456789abcdef0123", List.of());
  }

  private static List<Condition> after(List<Condition> current, HealthReport r, Instant at) {
    return EntryStatus.afterReport(current, r, at, at, Duration.ZERO).orElseThrow();
  }

  private static Condition agent(List<Condition> cs) {
    return Condition.find(cs, AgentState.TYPE).orElseThrow();
  }

  private static Condition healthyOf(List<Condition> cs) {
    return Condition.find(cs, Condition.HEALTHY).orElseThrow();
  }

  @Test
  void theFirstReportWritesBothConditions() {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    assertEquals("True", healthyOf(cs).status());
    Condition ours = agent(cs);
    assertEquals(List.of("True", "Healthy", T0, T0), List.of(ours.status(), ours.reason(), ours.lastProbeTime(),
        ours.lastTransitionTime()));
    AgentState s = AgentState.parse(ours.message()).orElseThrow();
    assertEquals("0123456789ab", s.bundle(), "the revision, shortened");
    assertEquals(Instant.parse(TOKEN_1), s.tokenExpires());
    assertEquals(T0, s.firstHealthy());
    assertEquals(List.of(new AgentState.Change(T0, "Serving")), s.history());
  }

  /** The write budget: nothing for a heartbeat, nothing for a token refresh, one liveness write per 10 minutes. */
  @Test
  void heartbeatsAndTokenRefreshesWaitForTheLivenessWrite() {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, healthy(TOKEN_1), T0.plusSeconds(60),
        T0.plusSeconds(60), Duration.ZERO));
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, healthy(TOKEN_2), T0.plusSeconds(120),
        T0.plusSeconds(120), Duration.ZERO), "a new token's expiry alone is no transition");
    Instant due = T0.plus(EntryStatus.LIVENESS);
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, healthy(TOKEN_2), due.minusSeconds(1),
        due.minusSeconds(1), Duration.ZERO));
    List<Condition> live = after(cs, healthy(TOKEN_2), due);
    assertEquals(due, agent(live).lastProbeTime(), "last seen moves");
    assertEquals(T0, agent(live).lastTransitionTime());
    assertEquals(healthyOf(cs), healthyOf(live), "Healthy untouched: istiod sees no new probe time");
    assertEquals(Instant.parse(TOKEN_2), AgentState.parse(agent(live).message()).orElseThrow().tokenExpires());
  }

  /** The liveness window: {@code LAST} and {@code NOW} as minutes:seconds after T0, a whole ten minutes. */
  @ParameterizedTest(name = "last {0}, now {1}, phase {2} s -> {3}")
  @CsvSource({
      "00:00, 09:59, 0, false",   // before the next window
      "00:00, 10:00, 0, true",    // the window opens
      "00:00, 11:59, 0, true",
      "00:00, 12:00, 0, false",   // closed: the next period's window
      "00:30, 10:05, 0, true",    // less than 10 minutes since the last write, still once in this window
      "10:01, 10:05, 0, false",   // written in this window already (a transition, say)
      "09:59, 10:05, 0, true",
      "00:00, 15:00, 300, true",  // another VM's window: 5 minutes later
      "00:00, 10:00, 300, false",
      "-30:00, 05:00, 0, false",  // long overdue, out of its window: waits for it
      "-30:00, 20:30, 0, true",
  })
  void aVmsLivenessWriteFallsInItsOwnWindowOncePerPeriod(String last, String now, long phase, boolean due) {
    assertEquals(due, EntryStatus.livenessDue(at(last), at(now), Duration.ofSeconds(phase)));
  }

  private static Instant at(String minutesSeconds) {
    boolean negative = minutesSeconds.startsWith("-");
    String[] ms = minutesSeconds.replace("-", "").split(":");
    long seconds = Long.parseLong(ms[0]) * 60 + Long.parseLong(ms[1]);
    return T0.plusSeconds(negative ? -seconds : seconds);
  }

  /** A VM reporting every 66 s for two hours: one liveness write per period, never two periods apart. */
  @Test
  void aSteadyVmIsWrittenOncePerPeriod() {
    Duration phase = EntryStatus.phase("bar/foo-0123456789abcdef0123456789abcdef");
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    List<Instant> writes = new ArrayList<>();
    for (Instant t = T0.plusSeconds(66); t.isBefore(T0.plus(Duration.ofHours(2))); t = t.plusSeconds(66)) {
      Optional<List<Condition>> next = EntryStatus.afterReport(cs, healthy(TOKEN_1), t, t, phase);
      if (next.isPresent()) {
        writes.add(t);
        cs = next.get();
      }
    }
    assertEquals(12, writes.size(), writes.toString());
    for (int i = 1; i < writes.size(); i++) {
      Duration gap = Duration.between(writes.get(i - 1), writes.get(i));
      assertTrue(gap.compareTo(EntryStatus.LIVENESS.minus(EntryStatus.LIVENESS_WINDOW)) > 0
          && gap.compareTo(EntryStatus.LIVENESS.plus(EntryStatus.LIVENESS_WINDOW)) < 0, writes.toString());
    }
  }

  /**
   * A report received just before the VM's window opens and looked at just after (the write queue's delay) is not the
   * liveness write: it would stamp a probe time before the window, and the window's next report would write again.
   * The next report, inside the window, writes; then none until the next period.
   */
  @Test
  void aReportReceivedBeforeTheWindowOpensIsNotItsLivenessWrite() {
    Duration phase = Duration.ofSeconds(300);
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    Instant open = T0.plus(phase); // T0 is a multiple of the period
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, healthy(TOKEN_1), open.minusMillis(3),
        open.plusMillis(2), phase));
    Instant next = open.plusSeconds(60);
    List<Condition> written = EntryStatus.afterReport(cs, healthy(TOKEN_1), next, next, phase).orElseThrow();
    assertEquals(next, agent(written).lastProbeTime());
    Instant again = next.plusSeconds(60);
    assertEquals(Optional.empty(), EntryStatus.afterReport(written, healthy(TOKEN_1), again, again, phase));
  }

  /**
   * After a 5-minute outage of the service, 10,000 VMs all last written more than a period ago come back in the
   * same minute: only those whose window is open write (about a fifth), not all of them; the phases spread evenly.
   */
  @Test
  void afterAnOutageOnlyTheVmsWhoseWindowIsOpenWrite() {
    int[] perMinute = new int[10];
    int due = 0;
    Random random = new Random(7);
    Instant back = T0.plus(Duration.ofMinutes(17));
    for (int i = 0; i < 10_000; i++) {
      String name = String.format("bar/foo-%016x%016x", random.nextLong(), random.nextLong());
      Duration phase = EntryStatus.phase(name);
      perMinute[(int) phase.toMinutes()]++;
      due += EntryStatus.livenessDue(T0, back.plusSeconds(random.nextInt(60)), phase) ? 1 : 0;
    }
    assertTrue(due > 1_700 && due < 2_300, due + " of 10,000 due");
    for (int n : perMinute) {
      assertTrue(n > 900 && n < 1_100, Arrays.toString(perMinute));
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "a sidecar restart | HEALTHY | active/running | true | 1 | 0123456789abcdef0123",
      "a new bundle | HEALTHY | active/running | true | 0 | fedcba9876543210fedc",
  })
  void anAgentStateChangeIsWrittenAtOnceEvenWhenHealthyStays(String what, String status, String state,
      boolean ready, long restarts, String revision) {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    List<Condition> next = after(cs, report(status, state, ready, restarts, TOKEN_1, revision,
        List.of("token expires soon")), T0.plusSeconds(60));
    assertEquals(healthyOf(cs), healthyOf(next));
    assertEquals(T0.plusSeconds(60), agent(next).lastProbeTime());
  }

  /**
   * What an outage of the service leaves: an agent whose refresh failed says DEGRADED with the error until its next
   * fetch. Still serving, so no write of its own: the liveness write in the VM's window carries what it says then.
   */
  @Test
  void aDegradedAgentAndItsErrorWaitForTheLivenessWrite() {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    HealthReport degraded = report("DEGRADED", "active/running", true, 0, TOKEN_1, "0123456789abcdef0123",
        List.of("cannot fetch the bundle: connection refused"));
    Instant t1 = T0.plusSeconds(60);
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, degraded, t1, t1, Duration.ZERO));
    assertEquals(Optional.empty(), EntryStatus.afterReport(cs, healthy(TOKEN_2), t1.plusSeconds(60),
        t1.plusSeconds(60), Duration.ZERO), "back to HEALTHY: nothing either");

    Instant window = T0.plus(EntryStatus.LIVENESS);
    List<Condition> live = EntryStatus.afterReport(cs, degraded, window, window, Duration.ZERO).orElseThrow();
    AgentState s = AgentState.parse(agent(live).message()).orElseThrow();
    assertEquals("DEGRADED", s.status());
    assertEquals("cannot fetch the bundle: connection refused", s.error());
    assertEquals("Degraded", agent(live).reason());
    assertEquals("True", agent(live).status());
    assertEquals(healthyOf(cs), healthyOf(live), "Healthy untouched");
  }

  @Test
  void aDeadSidecarTurnsBothFalseAndKeepsItsErrorAfterRecovery() {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    Instant t1 = T0.plusSeconds(30);
    List<Condition> down = after(cs, report("UNHEALTHY", "failed/failed", false, 1, TOKEN_1,
        "0123456789abcdef0123", List.of("istio.service failed\nexit 1")), t1);
    assertEquals(List.of("False", "SidecarDown"), List.of(healthyOf(down).status(), healthyOf(down).reason()));
    assertEquals(List.of("False", "Unhealthy", t1), List.of(agent(down).status(), agent(down).reason(),
        agent(down).lastTransitionTime()));
    AgentState s = AgentState.parse(agent(down).message()).orElseThrow();
    assertEquals("istio.service failed exit 1", s.error(), "control characters never reach the condition");
    assertEquals(t1, s.errorAt());
    Instant t2 = t1.plusSeconds(30);
    List<Condition> up = after(down, report("HEALTHY", "active/running", true, 1, TOKEN_1,
        "0123456789abcdef0123", List.of()), t2);
    AgentState back = AgentState.parse(agent(up).message()).orElseThrow();
    assertEquals(List.of("True", "Healthy"), List.of(agent(up).status(), agent(up).reason()));
    assertEquals("istio.service failed exit 1", back.error(), "the last error stays, with its time");
    assertEquals(t1, back.errorAt());
    assertEquals(T0, back.firstHealthy());
    assertEquals(List.of("Serving", "SidecarDown", "Serving"), back.history().stream()
        .map(AgentState.Change::reason).toList());
  }

  @Test
  void aVmThatNeverBecameHealthyShowsAsSuch() {
    List<Condition> enrolled = EntryStatus.enrolled(List.of(), T0).orElseThrow();
    assertEquals(List.of("False", "Enrolled"), List.of(healthyOf(enrolled).status(), healthyOf(enrolled).reason()));
    assertEquals(List.of("Unknown", "Enrolled"), List.of(agent(enrolled).status(), agent(enrolled).reason()));
    assertEquals(Optional.empty(), EntryStatus.enrolled(enrolled, T0.plusSeconds(5)), "enrolling again changes "
        + "nothing");
    List<Condition> looping = after(enrolled, report("UNHEALTHY", "activating/auto-restart", null, 7, TOKEN_1,
        "0123456789abcdef0123", List.of("crash loop")), T0.plusSeconds(40));
    assertEquals("NeverHealthy", agent(looping).reason());
    assertNull(AgentState.parse(agent(looping).message()).orElseThrow().firstHealthy());
  }

  @Test
  void theHistoryKeepsTheLastFiveReasons() {
    List<Condition> cs = List.of();
    Instant t = T0;
    for (int i = 0; i < 8; i++) {
      t = t.plusSeconds(10);
      cs = after(cs, i % 2 == 0 ? healthy(TOKEN_1) : report("UNHEALTHY", "failed/failed", false, i, TOKEN_1,
          "0123456789abcdef0123", List.of("down")), t);
    }
    List<AgentState.Change> h = AgentState.parse(agent(cs).message()).orElseThrow().history();
    assertEquals(AgentState.HISTORY, h.size());
    assertEquals(t, h.get(h.size() - 1).at());
  }

  @Test
  void silenceIsWrittenOnceAndTheNextReportEndsIt() {
    List<Condition> cs = after(List.of(), healthy(TOKEN_1), T0);
    Instant late = T0.plusSeconds(200);
    List<Condition> silent = EntryStatus.silent(cs, T0, late).orElseThrow();
    assertEquals(List.of("False", "AgentSilent"), List.of(healthyOf(silent).status(), healthyOf(silent).reason()));
    assertEquals(List.of("False", "Silent", T0), List.of(agent(silent).status(), agent(silent).reason(),
        agent(silent).lastProbeTime()), "last seen stays when it was");
    assertEquals(agent(cs).message(), agent(silent).message(), "the last reported state is kept");
    assertEquals(Optional.empty(), EntryStatus.silent(silent, T0, late.plusSeconds(60)));
    List<Condition> back = after(silent, healthy(TOKEN_1), late.plusSeconds(90));
    assertEquals(List.of("True", "Serving"), List.of(healthyOf(back).status(), healthyOf(back).reason()));
    assertEquals("Healthy", agent(back).reason());
  }

  /** istiod's probe-based Healthy (no reason) and another writer's condition are kept in place. */
  @Test
  void otherWritersConditionsAreKept() {
    Condition istiods = new Condition("Healthy", "True", T0, T0, null, null);
    Condition other = new Condition("example.com/Other", "True", T0, T0, "X", "y");
    List<Condition> cs = after(List.of(istiods, other), healthy(TOKEN_1), T0.plusSeconds(1));
    assertEquals(List.of("Healthy", "example.com/Other", AgentState.TYPE), cs.stream().map(Condition::type).toList());
    assertEquals(other, cs.get(1));
  }

  @Test
  void aReportFromTheFutureNeverWritesAFutureProbeTime() {
    List<Condition> cs = EntryStatus.afterReport(List.of(), healthy(TOKEN_1), T0.plusSeconds(5), T0, Duration.ZERO)
        .orElseThrow();
    assertFalse(agent(cs).lastProbeTime().isAfter(T0));
    assertFalse(healthyOf(cs).lastProbeTime().isAfter(T0));
  }

  @Test
  void messagesRoundTripThroughLogfmt() {
    Map<String, String> f = new java.util.LinkedHashMap<>();
    f.put("a", "plain");
    f.put("b", "with space and \"quotes\" and \\ and\nnewline");
    f.put("c", "");
    assertEquals(Optional.of(f), Logfmt.parse(Logfmt.format(f)));
    assertEquals("a=plain b=\"with space and \\\"quotes\\\" and \\\\ and\\nnewline\" c=\"\"", Logfmt.format(f));
    assertTrue(Logfmt.parse("not logfmt").isEmpty());
    assertTrue(Logfmt.parse("a=\"unclosed").isEmpty());
    assertTrue(AgentState.parse("istiod wrote this").isEmpty(), "another writer's message is not ours");
    assertEquals(Duration.ofMinutes(10), EntryStatus.LIVENESS);
  }
}
