package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API server's request log as P7 reads it while it grows. */
class ApiLogTest {
  private static final long T0 = 1_796_617_000_000L;

  @Test
  void parsesWhatTheCounterWrites() {
    String line = ApiCounter.line(T0 + 1500, new ApiRequest("PUT", "workloadentries/status"), 200, 850, "liveness");
    assertEquals(new ApiLog.Line(T0 + 1500, new ApiRequest("PUT", "workloadentries/status"), 200, 850, "liveness"),
        ApiLog.parse(line));
    assertNull(ApiLog.parse("mock API server at https://localhost:4242/"));
    assertNull(ApiLog.parse("x GET secrets 200 1 -"));
  }

  private static void append(Path f, String text) throws Exception {
    Files.writeString(f, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  @Test
  void countsEachRequestInTheSecondItArrivedFromSecondZero(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("api.log");
    ApiLog log = new ApiLog(T0, 4);
    append(f, (T0 - 10) + " POST secrets 201 900 -\n" // the mesh's setup, before second 0
        + T0 + " GET secrets 200 300 -\n"
        + (T0 + 999) + " PUT secrets 409 500 -\n"
        + (T0 + 1000) + " PUT workloadentries/status 200 700 transition\n"
        + (T0 + 1200) + " POST serviceaccounts/token 201 600 -\n"
        + (T0 + 2100) + " PUT secr");
    log.read(f);
    append(f, "ets 200 400 -\n" + (T0 + 9000) + " PATCH leases 200 100 -\n");
    log.read(f);
    assertArrayEquals(new int[] {2, 2, 1, 1}, log.all(), "the last second takes what comes after the end");
    assertArrayEquals(new int[] {0, 1, 1, 1}, log.writes(), "a 409 wrote nothing; a TokenRequest stores nothing");
    assertArrayEquals(new int[] {1, 0, 0, 0}, log.conflicts());
    assertArrayEquals(new int[] {0, 0, 1, 0}, log.succeeded("PUT", "secrets"));
    assertArrayEquals(new int[] {1, 0, 1, 0}, log.matching("PUT", "secrets"));
    assertArrayEquals(new int[] {2, 0, 1, 0}, log.matching(null, "secrets"), "any verb");
    assertArrayEquals(new int[] {0, 1, 0, 0}, log.kind("transition"));
    assertArrayEquals(new int[] {0, 0, 0, 0}, log.kind("liveness"));
    assertArrayEquals(new long[] {300, 500}, log.micros(0, 1));
  }
}
