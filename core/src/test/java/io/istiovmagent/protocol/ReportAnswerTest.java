package io.istiovmagent.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The report answer and revision names, as docs/protocol.md writes them, read back the way agents read them. */
class ReportAnswerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "true  | {\"accepted\":true,\"hints\":{\"fetchBundleNow\":true}}",
      "false | {\"accepted\":true,\"hints\":{\"fetchBundleNow\":false}}",
      "      | {\"accepted\":true,\"hints\":{}}"})
  void anAcceptedAnswerWritesTheHintOnlyWhenThereIsOne(Boolean fetch, String wire) throws Exception {
    String json = JSON.writeValueAsString(ReportAnswer.accepted(Optional.ofNullable(fetch)));

    assertEquals(wire, json);
    assertEquals(fetch == null ? ReportAnswer.Hint.NONE
        : fetch ? ReportAnswer.Hint.FETCH_NOW : ReportAnswer.Hint.CONFIRMED, ReportAnswer.hintIn(JSON.readTree(json)));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"hints\":{\"fetchBundleNow\":true,\"somethingNew\":1},\"extra\":[]} | FETCH_NOW",
      "{\"hints\":{\"fetchBundleNow\":1}}                                    | FETCH_NOW",
      "{\"hints\":{\"fetchBundleNow\":\"true\"}}                             | FETCH_NOW",
      "{\"hints\":{\"fetchBundleNow\":false}}                                | CONFIRMED",
      "{\"hints\":{\"fetchBundleNow\":\"false\"}}                            | NONE",
      "{\"hints\":{\"fetchBundleNow\":null}}                                 | NONE",
      "{\"hints\":{\"fetchBundleNow\":0}}                                    | NONE",
      "{\"accepted\":true}                                                   | NONE",
      "[]                                                                    | NONE",
      "\"ok\"                                                                | NONE"})
  void anAgentFetchesOnAnythingTrueAndCountsOnlyAJsonFalseAsAConfirmation(String body, ReportAnswer.Hint hint)
      throws Exception {
    assertEquals(hint, ReportAnswer.hintIn(JSON.readTree(body)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"sha256:ab12", "ab12", "\"ab12\"", " sha256:AB12 ", "W/\"ab12\""})
  void revisionsAreTheSameInEveryWireForm(String other) {
    boolean weak = other.startsWith("W/");
    // A weak tag is not a form the protocol writes for a revision (If-None-Match is compared elsewhere).
    assertEquals(!weak, Revisions.same("sha256:ab12", other));
    assertEquals("\"ab12\"", Revisions.etag("sha256:ab12"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"sha256:ab13", "", "\"\""})
  void differentRevisionsDiffer(String other) {
    assertFalse(Revisions.same("sha256:ab12", other));
    assertTrue(Revisions.same(other, other));
  }
}
