package io.istiovmagent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.verify.HostsEntry;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HostsBlockTest {
  private static final List<HostsEntry> ISTIOD = List.of(new HostsEntry("10.0.0.5", List.of("istiod.istio-system.svc")));
  private static final String DEBIAN = "127.0.0.1\tlocalhost\n127.0.1.1\tvm-1\n\n::1 localhost ip6-localhost\n";

  @Test
  void appendsBlockAndKeepsEveryForeignByte() {
    HostsBlock.Edit e = HostsBlock.apply(DEBIAN, ISTIOD);
    assertEquals(DEBIAN + "# BEGIN istio-vm-agent\n10.0.0.5 istiod.istio-system.svc\n# END istio-vm-agent\n", e.text());
    assertTrue(e.disabledLines().isEmpty());
  }

  @Test
  void appendsAfterAFileWithoutTrailingNewline() {
    String text = HostsBlock.apply("127.0.0.1 localhost", ISTIOD).text();
    assertEquals("127.0.0.1 localhost\n# BEGIN istio-vm-agent\n10.0.0.5 istiod.istio-system.svc\n# END istio-vm-agent\n",
        text);
  }

  @Test
  void replacesTheBlockInPlaceNeverAppendsTwice() {
    String once = HostsBlock.apply(DEBIAN, ISTIOD).text() + "10.9.9.9 added-later\n";
    String again = HostsBlock.apply(once, List.of(new HostsEntry("10.0.0.6", List.of("istiod.istio-system.svc")))).text();
    assertEquals(DEBIAN + "# BEGIN istio-vm-agent\n10.0.0.6 istiod.istio-system.svc\n# END istio-vm-agent\n"
        + "10.9.9.9 added-later\n", again);
    assertEquals(1, again.split("# BEGIN istio-vm-agent", -1).length - 1);
  }

  @Test
  void applyingTwiceIsTheSameAsOnce() {
    String withShadow = DEBIAN + "10.0.0.1 istiod.istio-system.svc other\n";
    String once = HostsBlock.apply(withShadow, ISTIOD).text();
    assertEquals(once, HostsBlock.apply(once, ISTIOD).text());
  }

  @Test
  void noEntriesRemovesTheBlock() {
    String with = HostsBlock.apply(DEBIAN, ISTIOD).text();
    assertEquals(DEBIAN, HostsBlock.apply(with, List.of()).text());
  }

  @Test
  void commentsOutAShadowingLineFromTheManualGuide() {
    String manual = DEBIAN + "10.0.0.1 istiod.istio-system.svc\n";
    HostsBlock.Edit e = HostsBlock.apply(manual, ISTIOD);
    assertEquals(DEBIAN + "#istio-vm-agent-disabled# 10.0.0.1 istiod.istio-system.svc\n"
        + "# BEGIN istio-vm-agent\n10.0.0.5 istiod.istio-system.svc\n# END istio-vm-agent\n", e.text());
    assertEquals(List.of("10.0.0.1 istiod.istio-system.svc"), e.disabledLines());
  }

  @Test
  void keepsOtherNamesOfAShadowingLineMapped() {
    String text = HostsBlock.apply("10.0.0.1 ISTIOD.istio-system.svc db db.local\n", ISTIOD).text();
    assertEquals("#istio-vm-agent-disabled# 10.0.0.1 ISTIOD.istio-system.svc db db.local\n"
        + "10.0.0.1 db db.local # istio-vm-agent: kept from the line above\n"
        + "# BEGIN istio-vm-agent\n10.0.0.5 istiod.istio-system.svc\n# END istio-vm-agent\n", text);
  }

  @Test
  void restoresADisabledLineWhenTheNameIsNoLongerManaged() {
    String text = HostsBlock.apply(DEBIAN + "10.0.0.1 istiod.istio-system.svc\n", ISTIOD).text();
    List<HostsEntry> other = List.of(new HostsEntry("10.0.0.7", List.of("istiod-canary.istio-system.svc")));
    assertEquals(DEBIAN + "10.0.0.1 istiod.istio-system.svc\n# BEGIN istio-vm-agent\n"
        + "10.0.0.7 istiod-canary.istio-system.svc\n# END istio-vm-agent\n", HostsBlock.apply(text, other).text());
  }

  @Test
  void aDanglingBeginLosesNoForeignLine() {
    String broken = DEBIAN + "# BEGIN istio-vm-agent\n10.0.0.5 istiod.istio-system.svc\n10.1.1.1 precious\n";
    String fixed = HostsBlock.apply(broken, ISTIOD).text();
    assertTrue(fixed.contains("10.1.1.1 precious\n"), fixed);
    assertEquals(1, fixed.split("# BEGIN istio-vm-agent", -1).length - 1, fixed);
  }

  @Test
  void removeEndsTheLastForeignLineWithANewline() {
    assertEquals("127.0.0.1 localhost\n", HostsBlock.remove(HostsBlock.apply("127.0.0.1 localhost", ISTIOD).text()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\n", DEBIAN, DEBIAN + "10.0.0.1 istiod.istio-system.svc x\n",
      "# only a comment\n", "10.0.0.1 istiod.istio-system.svc\n\n\n", "\u00e9\u00e8 latin-1 bytes survive\n"})
  void removeUndoesApplyExactly(String original) {
    assertEquals(original, HostsBlock.remove(HostsBlock.apply(original, ISTIOD).text()));
  }
}
