package io.istiovmagent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WritePolicyTest {
  private static final Instant T0 = Instant.parse("2026-01-02T00:00:00Z");

  /** Seconds after T0; -1 for "never". The interval is 30 s; the content last written is "a". */
  @ParameterizedTest(name = "[{index}] now {0}, tried {1}, written {2}, content {3}: {4}")
  @CsvSource({
      // now, lastAttempt, writtenAt, content, due
      "0,    -1,  -1,  a, true",   // the first write
      "10,   0,   0,   b, false",  // changed, but within the interval: waits
      "30,   0,   0,   b, true",   // changed, the interval over
      "30,   0,   0,   a, false",  // unchanged: nothing to write
      "299,  0,   0,   a, false",
      "300,  0,   0,   a, true",   // unchanged for five minutes: rewritten so its mtime shows the agent alive
      "40,   30,  0,   b, false",  // a failed write waits for the interval too
      "60,   30,  0,   b, true",
      "5,    30,  30,  b, true"})  // the clock stepped back
  void writesOnChangeAtMostEveryIntervalAndRefreshesTheMtime(long now, long attempt, long writtenAt,
      String content, boolean due) {
    assertEquals(due, WritePolicy.due(T0.plusSeconds(now), attempt < 0 ? null : T0.plusSeconds(attempt),
        writtenAt < 0 ? null : "a", writtenAt < 0 ? null : T0.plusSeconds(writtenAt), content,
        Duration.ofSeconds(30)));
  }

  @ParameterizedTest
  @CsvSource({"600, false", "900, true"})
  void anIntervalLongerThanTheRefreshIsTheRefresh(long now, boolean due) {
    assertEquals(due, WritePolicy.due(T0.plusSeconds(now), T0, "a", T0, "a", Duration.ofMinutes(15)));
  }
}
