package io.istiovmagent.retry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.source.SourceException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FailureClassTest {
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "UNREACHABLE,         TRANSIENT",
      "UNAVAILABLE,         TRANSIENT",
      "CREDENTIAL_REJECTED, CREDENTIAL_REJECTED",
      "NOT_FOUND,           NOT_FOUND",
      "TLS,                 MISCONFIGURED",
      "PROTOCOL,            MISCONFIGURED",
  })
  void classifiesEachSourceFailure(SourceException.Kind kind, FailureClass expected) {
    assertEquals(expected, FailureClass.of(kind));
    assertEquals(expected, FailureClass.of(new SourceException(kind, "m", Duration.ofSeconds(5), null)));
  }

  @Test
  void theTableAboveCoversEveryKind() {
    // A new Kind must be classified on purpose (the switch will not compile without it) and added to the table.
    assertEquals(6, SourceException.Kind.values().length);
  }

  @Test
  void aBundleRefusedByVerificationIsABadBundle() {
    BadBundleException refused = new BadBundleException(new Problem("istio-token", "token-expired", "expired"));
    assertEquals(FailureClass.BAD_BUNDLE, FailureClass.of(refused));
  }

  @Test
  void onlyTransientIsRetriedSoon() {
    Set<FailureClass> soon = EnumSet.noneOf(FailureClass.class);
    for (FailureClass f : FailureClass.values()) {
      if (f.retriedSoon()) {
        soon.add(f);
      }
    }
    assertEquals(EnumSet.of(FailureClass.TRANSIENT), soon);
  }
}
