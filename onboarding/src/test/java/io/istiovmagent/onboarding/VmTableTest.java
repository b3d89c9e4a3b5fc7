package io.istiovmagent.onboarding;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.onboarding.mesh.VmRow;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VmTableTest {
  private static final Instant NOW = Instant.parse("2026-12-07T10:01:00Z");
  private static final String M1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
  private static final String M2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";

  private static VmRow row(String ns, String machine, String healthy, String reason, String sidecar, String error,
      Instant tokenExpires, Instant lastSeen) {
    return new VmRow(ns, "foo", machine, "foo-" + machine, "10.0.0.7", healthy, reason, null, "Healthy", "HEALTHY",
        sidecar, true, 2L, false, "sha256:5f1d0", tokenExpires, NOW.plus(Duration.ofDays(300)), lastSeen, error,
        null, null, "0.1.0", List.of(new VmRow.Transition(NOW, reason)));
  }

  /** The cases of k8s.io/apimachinery's HumanDuration, which kubectl's ages are. */
  @ParameterizedTest(name = "{0} s is {1}")
  @CsvSource({"-5, 0s", "0, 0s", "119, 119s", "120, 2m", "121, 2m1s", "599, 9m59s", "600, 10m", "10799, 179m",
      "10800, 3h", "11100, 3h5m", "28800, 8h", "172799, 47h", "172800, 2d", "176400, 2d1h", "691200, 8d",
      "63071999, 729d", "63072000, 2y", "63158400, 2y1d", "252288000, 8y"})
  void agesAreKubectls(long seconds, String age) {
    assertEquals(age, VmTable.age(Duration.ofSeconds(seconds)));
  }

  @Test
  void anExpiryIsTheTimeLeftOrExpired() {
    assertEquals("41m", VmTable.until(NOW, NOW.plus(Duration.ofMinutes(41))));
    assertEquals("expired", VmTable.until(NOW, NOW));
    assertEquals("expired", VmTable.until(NOW, NOW.minusSeconds(1)));
    assertEquals(null, VmTable.until(NOW, null));
  }

  /** What an entry holds reaches a terminal: an escape sequence, a bidi override or a newline must not. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {"escape|a\u001b[31mred|a?[31mred", "bell and C1|a\u0007b\u009bc|a?b?c",
      "newline and tab|'one\ntwo\tthree'|one?two?three", "bidi override|abc\u202edcba|abc?dcba",
      "line separator|a\u2028b|a?b", "blank|'   '|-", "plain|active/running|active/running"})
  void aCellIsOnePrintableLine(String what, String in, String out) {
    assertEquals(out, VmTable.cell(in), what);
  }

  @Test
  void theDefaultTableHasKubectlsLook() {
    List<String> lines = VmTable.lines(List.of(
        row("bar", M1, "True", "Serving", "active/running", null, NOW.plus(Duration.ofMinutes(41)),
            NOW.minusSeconds(60)),
        row("baz", M2, "False", "SidecarDown", "failed/failed",
            "istio.service is failed: Main process exited, code=exited, status=1/FAILURE", NOW.minusSeconds(5), NOW)),
        NOW, false, true);
    assertEquals(List.of(
        "NAMESPACE   GROUP   MACHINE        ADDRESS    HEALTH              SIDECAR          TOKEN-EXPIRES   LAST-SEEN"
            + "   LAST-ERROR",
        "bar         foo     aaaaaaaaaaaa   10.0.0.7   True/Serving        active/running   41m             60s"
            + "         -",
        "baz         foo     bbbbbbbbbbbb   10.0.0.7   False/SidecarDown   failed/failed    expired         0s "
            + "         istio.service is failed: Main process..."), lines);
  }

  @Test
  void wideAddsColumnsAndOneNamespaceLeavesItsColumnOut() {
    VmRow unknown = new VmRow("bar", null, null, null, null, null, null, null, null, null, null, null, null, false,
        null, null, null, null, null, null, null, null, List.of());
    List<String> lines = VmTable.lines(List.of(row("bar", M1, "True", "Serving", "active/running", null,
        NOW.plus(Duration.ofMinutes(41)), NOW.minusSeconds(60)), unknown), NOW, true, false);
    assertEquals(List.of(
        "GROUP   MACHINE                            ADDRESS    HEALTH         SIDECAR          RESTARTS   AGENT     "
            + "TOKEN-EXPIRES   ROOT-CERT-EXPIRES   BUNDLE         LAST-SEEN   LAST-ERROR   ENTRY",
        "foo     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1   10.0.0.7   True/Serving   active/running   2          Healthy   "
            + "41m             300d                sha256:5f1d0   60s         -            foo-" + M1,
        "-       -                                  -          -              -                -          -         "
            + "-               -                   -              -           -            -"), lines);
  }
}
