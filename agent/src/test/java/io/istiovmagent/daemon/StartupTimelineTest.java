package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StartupTimelineTest {
  @TempDir
  Path proc;

  /** The process's age from /proc: uptime less its start (clock ticks since boot), whatever its name holds. */
  @Test
  void readsTheProcesssAgeFromProcWhateverItsNameHolds() throws IOException {
    Files.createDirectories(proc.resolve("self"));
    Files.writeString(proc.resolve("uptime"), "12345.67 24000.00\n");
    // Field 22 (starttime) is 1234500 ticks = 12345.00 s; the name "(a b) c" holds spaces and a parenthesis.
    Files.writeString(proc.resolve("self/stat"), "4242 ((a b) c) S 1 4242 4242 0 -1 4194560 500 0 0 0 10 5 0 0 20"
        + " 0 19 0 1234500 123456789 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
    assertEquals(Optional.of(670L), StartupTimeline.processAgeMillis(proc));
  }

  @Test
  void withoutProcItIsUnknown() {
    assertEquals(Optional.empty(), StartupTimeline.processAgeMillis(proc.resolve("missing")));
  }

  @Test
  void theRealProcessIsOlderThanZeroAndYoungerThanAnHour() {
    long age = StartupTimeline.processAgeMillis(Path.of("/proc")).orElseThrow();
    assertTrue(age >= 0 && age < 3_600_000, age + " ms");
  }
}
