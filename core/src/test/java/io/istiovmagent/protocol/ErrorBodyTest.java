package io.istiovmagent.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The error body as docs/protocol.md writes it, read back the way agents read it. */
class ErrorBodyTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void anErrorIsOneFieldNamedError() throws Exception {
    String json = JSON.writeValueAsString(new ErrorBody("sequence must be a number"));

    assertEquals("{\"error\":\"sequence must be a number\"}", json);
    assertEquals(Optional.of("sequence must be a number"), ErrorBody.reasonIn(JSON.readTree(json)));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', nullValues = "NONE", value = {
      "{\"error\":\"bad\",\"extra\":1} | bad",
      "{\"error\":5}                 | 5",
      "{\"error\":null}              | NONE",
      "{\"message\":\"bad\"}         | NONE",
      "[]                            | NONE",
      "\"bad\"                       | NONE"})
  void anAgentReadsTheReasonLenientlyFromAnyServer(String body, String reason) throws Exception {
    assertEquals(Optional.ofNullable(reason), ErrorBody.reasonIn(JSON.readTree(body)));
  }
}
