package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bytes of every error answer, as docs/protocol.md promises them: {@code {"error": "<reason>"}}, compact. */
class ErrorWireTest {

  @Test
  void everyErrorAnswerIsOneCompactErrorField() {
    Response r = Response.error(404, "no bundle for vm-namespace/web yet");

    assertEquals(404, r.status());
    assertEquals("application/json", r.headers().get("Content-Type"));
    assertEquals("{\"error\":\"no bundle for vm-namespace/web yet\"}", new String(r.body(), StandardCharsets.UTF_8));
  }
}
