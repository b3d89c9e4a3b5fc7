package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MintedEtagTest {
  private static final String CONFIG = "sha256:" + "ab".repeat(32);
  private static final String OTHER = "sha256:" + "cd".repeat(32);
  private static final Instant ISSUED = Instant.parse("2026-12-07T10:00:00Z");

  /**
   * A 1-hour token: half-life at +1800 s, 60 s margin, so 304 until +1739 s. A 10-minute token (the API's least):
   * half-life +300 s, margin 60 s (a tenth), 304 until +239 s.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "just minted, same config             | same  | 3600 | 0    | 304",
      "well before half-life                | same  | 3600 | 1200 | 304",
      "last second before the margin        | same  | 3600 | 1739 | 304",
      "within the margin before half-life   | same  | 3600 | 1740 | 200",
      "past half-life                       | same  | 3600 | 2000 | 200",
      "expired                              | same  | 3600 | 9000 | 200",
      "configuration changed                | other | 3600 | 10   | 200",
      "short token before its margin        | same  | 600  | 239  | 304",
      "short token within its margin        | same  | 600  | 240  | 200",
  })
  void answers304OnlyForTheSameConfigurationBeforeHalfLife(String what, String config, long lifetime, long age,
      int expected) {
    String etag = MintedEtag.of(CONFIG, ISSUED, ISSUED.plusSeconds(lifetime));
    Optional<String> fresh = MintedEtag.fresh(List.of(etag), config.equals("same") ? CONFIG : OTHER,
        ISSUED.plusSeconds(age));
    assertEquals(expected, fresh.isPresent() ? 304 : 200, what);
    fresh.ifPresent(f -> assertEquals(etag, f, "the 304 names the tag it confirms"));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "a list, weak, the good tag second | W/\"x\", \"ABC.1.2\", W/\"%s.%d.%d\" | true",
      "the directory mode's plain tag    | \"%s\"                              | false",
      "expiry before issue               | \"%s.%3$d.%2$d\"                    | false",
      "uppercase hex                     | \"%S.%d.%d\"                        | false",
      "star is not ours to confirm       | *                                   | false",
  })
  void readsOnlyItsOwnForm(String what, String header, boolean fresh) {
    String hex = CONFIG.substring("sha256:".length());
    String value = String.format(header, hex, ISSUED.getEpochSecond(), ISSUED.getEpochSecond() + 3600);
    assertEquals(fresh, MintedEtag.fresh(List.of(value), CONFIG, ISSUED.plusSeconds(5)).isPresent(), what);
  }
}
