package io.istiovmagent.onboarding.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConditionTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final Instant T1 = T0.plusSeconds(30);
  private static final HealthVerdict UP = new HealthVerdict(true, HealthVerdict.SERVING, "ok");
  private static final HealthVerdict DOWN = new HealthVerdict(false, HealthVerdict.SIDECAR_DOWN, "dead");
  private static final HealthVerdict NOT_READY = new HealthVerdict(false, HealthVerdict.NOT_READY, "not ready");
  private static final Condition OURS = new Condition("istio-vm-agent.io/Agent", "True", T0, T0, "Reporting", "x");

  @Test
  void aFirstVerdictAddsHealthyBesideTheOtherConditions() {
    List<Condition> written = Condition.next(List.of(OURS), UP, T0).orElseThrow();
    assertEquals(List.of(OURS, new Condition("Healthy", "True", T0, T0, "Serving", "ok")), written);
  }

  @Test
  void aHeartbeatWithTheSameVerdictWritesNothing() {
    List<Condition> current = Condition.next(List.of(), UP, T0).orElseThrow();
    assertEquals(Optional.empty(), Condition.next(current, UP, T1));
  }

  /** A new reason with the same status is written, but the status did not transition: its time stays. */
  @Test
  void theTransitionTimeMovesOnlyWithTheStatus() {
    List<Condition> down = Condition.next(List.of(), DOWN, T0).orElseThrow();
    Condition c = Condition.next(down, NOT_READY, T1).orElseThrow().get(0);
    assertEquals(new Condition("Healthy", "False", T1, T0, "EnvoyNotReady", "not ready"), c);
    Condition up = Condition.next(List.of(c), UP, T1.plusSeconds(5)).orElseThrow().get(0);
    assertEquals(T1.plusSeconds(5), up.lastTransitionTime());
    assertEquals(T1.plusSeconds(5), up.lastProbeTime());
  }

  /** istiod's own Healthy condition (no reason) is replaced in its place; the probe time is ours, never ahead. */
  @Test
  void istiodsConditionIsReplacedInPlace() {
    Condition istiods = new Condition("Healthy", "True", T1.plusSeconds(60), T0, null, null);
    List<Condition> written = Condition.next(List.of(istiods, OURS), DOWN, T1).orElseThrow();
    assertEquals("Healthy", written.get(0).type());
    assertEquals(T1, written.get(0).lastProbeTime(), "now, even though istiod's was later");
    assertEquals(OURS, written.get(1));
  }

  @Test
  void aLongMessageIsCut() {
    HealthVerdict v = new HealthVerdict(false, HealthVerdict.CRASH_LOOP, "x".repeat(5000));
    String m = Condition.next(List.of(), v, T0).orElseThrow().get(0).message();
    assertEquals(1024, m.length());
    assertTrue(m.endsWith("..."));
  }
}
