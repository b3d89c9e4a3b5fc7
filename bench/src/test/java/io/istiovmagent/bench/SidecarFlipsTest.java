package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which agents of P7's fleet see their sidecar die, and when: the same fleet for any number of JVMs. */
class SidecarFlipsTest {
  @Test
  void flipsAreSpreadOverTheWindowEachAgentOnceAndBackBeforeItsEnd() {
    List<SidecarFlips.Planned> plan = SidecarFlips.of(0, 10_000, 10_000, 100, 660, 1260).plan();
    assertEquals(100, plan.size());
    assertEquals(100, plan.stream().mapToInt(SidecarFlips.Planned::agent).distinct().count());
    for (SidecarFlips.Planned p : plan) {
      assertEquals(SidecarFlips.DOWN, p.down());
      assertTrue(p.at() >= 660_000, p + " before the window");
      assertTrue(p.at() + p.down() + SidecarFlips.NOT_READY + SidecarFlips.MARGIN <= 1_260_000, p + " back too late");
    }
    assertEquals(List.of(0, 100), List.of(plan.get(0).agent(), plan.get(1).agent()), "spread over the fleet");
  }

  @Test
  void theFleetsJvmsShareThePlanBetweenThem() {
    List<SidecarFlips.Planned> whole = SidecarFlips.of(0, 1000, 1000, 20, 40, 100).plan();
    List<SidecarFlips.Planned> split = new ArrayList<>(SidecarFlips.of(0, 333, 1000, 20, 40, 100).plan());
    split.addAll(SidecarFlips.of(333, 1000, 1000, 20, 40, 100).plan());
    assertEquals(whole, split);
  }

  @Test
  void aShortWindowGetsShorterOutagesAndNoMoreFlipsThanAgents() {
    List<SidecarFlips.Planned> plan = SidecarFlips.of(0, 5, 5, 20, 40, 70).plan();
    assertEquals(5, plan.size());
    assertEquals(10_000, plan.get(0).down(), "a third of a 30 s window");
    assertTrue(plan.get(4).at() + 10_000 + SidecarFlips.NOT_READY + SidecarFlips.MARGIN <= 70_000);
  }
}
