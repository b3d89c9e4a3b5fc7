package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.onboarding.mesh.EntryStatus;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Why the service wrote an entry's status, judged from consecutive writes (P7's count against the formula). */
class EntryWritesTest {
  private static final Instant T = Instant.parse("2026-12-07T10:00:00Z");
  private final EntryWrites writes = new EntryWrites();

  private static EntryWrites.Conditions c(String healthy, String agent, String message, Instant probe) {
    String[] h = healthy.split("/");
    String[] a = agent.split("/");
    return new EntryWrites.Conditions(h[0], h[1], a[0], a[1], message, probe);
  }

  private EntryWrites.Kind at(int seconds, EntryWrites.Conditions c) {
    return writes.written("bar/foo-1", c, T.plusSeconds(seconds));
  }

  @Test
  void aVmThatJoinsAndStaysHealthyIsRegisteredServedThenOnlyProvedAlive() {
    assertEquals(EntryWrites.Kind.ENROLLED, at(0, c("False/Enrolled", "Unknown/Enrolled", "first-healthy=never", T)));
    assertEquals(EntryWrites.Kind.TRANSITION, at(2, c("True/Serving", "True/Healthy", "status=HEALTHY", T
        .plusSeconds(2))));
    int open = windowOpensAfter(3);
    assertEquals(EntryWrites.Kind.UNEXPLAINED, at(open - 1, c("True/Serving", "True/Healthy", "status=HEALTHY", T
        .plusSeconds(open - 1))), "a write that changes nothing out of the VM's liveness window");
    assertEquals(EntryWrites.Kind.LIVENESS, at(open + 30, c("True/Serving", "True/Healthy", "status=HEALTHY "
        + "token-expires=later", T.plusSeconds(open + 30))), "in its window, whatever moved");
    assertEquals(EntryWrites.Kind.UNEXPLAINED, at(open + 90, c("True/Serving", "True/Healthy", "status=HEALTHY "
        + "token-expires=later", T.plusSeconds(open + 90))), "a second one in the same window");
  }

  /** Seconds after T at which bar/foo-1's liveness window next opens, after {@code seconds}. */
  private static int windowOpensAfter(int seconds) {
    Duration phase = EntryStatus.phase("bar/foo-1");
    int s = seconds + 1;
    while (Math.floorMod(T.plusSeconds(s).toEpochMilli() - phase.toMillis(), 600_000L) >= 1000) {
      s++;
    }
    return s;
  }

  @Test
  void theAgentsOwnStateChangingIsNotATransitionOfHealthy() {
    at(0, c("True/Serving", "True/Healthy", "restarts=0", T));
    assertEquals(EntryWrites.Kind.STATE, at(60, c("True/Serving", "True/Healthy", "restarts=1", T.plusSeconds(60))));
    assertEquals(EntryWrites.Kind.STATE, at(120, c("True/Serving", "True/Degraded", "restarts=1", T
        .plusSeconds(120))));
    assertEquals(EntryWrites.Kind.TRANSITION, at(180, c("False/SidecarDown", "True/Degraded", "restarts=1", T
        .plusSeconds(180))));
    assertEquals(EntryWrites.Kind.TRANSITION, at(190, c("False/AgentUnhealthy", "False/Unhealthy", "restarts=1", T
        .plusSeconds(190))), "a change of reason alone is a transition too");
  }

  @Test
  void theLeadersSilenceSweepIsATransitionCountedApart() {
    at(0, c("True/Serving", "True/Healthy", "status=HEALTHY", T));
    assertEquals(EntryWrites.Kind.SILENCED, at(250, c("False/AgentSilent", "False/Silent", "status=HEALTHY", T)));
    assertEquals(EntryWrites.Kind.TRANSITION, at(260, c("True/Serving", "True/Healthy", "status=HEALTHY", T
        .plusSeconds(260))), "back in traffic at its next report");
  }

  @Test
  void theFirstWriteOfAnEntryNotEnrolledIsATransition() {
    assertEquals(EntryWrites.Kind.TRANSITION, at(0, c("True/Serving", "True/Healthy", "status=HEALTHY", T)));
    assertEquals(EntryWrites.Kind.ENROLLED, writes.written("bar/foo-2", c("False/Enrolled", "Unknown/Enrolled",
        "first-healthy=never", T), T), "each entry on its own");
  }

  @Test
  void readsBothConditionsFromAStatusWrite() throws Exception {
    String body = """
        {"apiVersion":"networking.istio.io/v1","kind":"WorkloadEntry",
         "metadata":{"name":"foo-1","namespace":"bar","resourceVersion":"7"},
         "spec":{"address":"10.0.0.1"},
         "status":{"conditions":[
           {"type":"Healthy","status":"True","reason":"Serving","lastProbeTime":"2026-12-07T10:00:00Z"},
           {"type":"istio-vm-agent.io/Agent","status":"True","reason":"Healthy","message":"status=HEALTHY",
            "lastProbeTime":"2026-12-07T10:00:01Z","lastTransitionTime":"2026-12-07T09:00:00Z"}]}}""";
    assertEquals(new EntryWrites.Conditions("True", "Serving", "True", "Healthy", "status=HEALTHY",
        Instant.parse("2026-12-07T10:00:01Z")), EntryWrites.parse(new ObjectMapper().readTree(body)));
    assertEquals(new EntryWrites.Conditions(null, null, null, null, null, null),
        EntryWrites.parse(new ObjectMapper().readTree("{\"spec\":{}}")), "no status: nothing");
  }
}
