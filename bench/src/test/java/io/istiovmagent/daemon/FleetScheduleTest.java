package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.retry.FailureClass;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fleet benchmark's bridge drives the daemon's own fetch schedule. */
class FleetScheduleTest {
  private static final Instant T0 = Instant.parse("2026-12-06T12:00:00Z");
  private static final FleetSchedule.Settings SETTINGS = FleetSchedule.Settings.withDefaults();

  @Test
  void dueAtOnceThenAnIntervalFromTheShiftedWarmStartWithTheEtagKept() {
    FleetSchedule s = new FleetSchedule(SETTINGS, new SplittableRandom(1), T0);
    assertEquals(T0, s.nextAt());
    Instant checked = T0.plusSeconds(1);
    Instant from = checked.minus(Duration.ofMinutes(4));
    s.fetched(from, checked, Optional.of("\"r1\""), null);
    assertEquals(from.plus(SETTINGS.refreshInterval()), s.nextAt());
    assertEquals(checked, s.lastCheckedAt());
    assertEquals(Optional.of("\"r1\""), s.etag());

    Instant later = s.nextAt().plusSeconds(2);
    s.notModified(later, later, null);
    assertEquals(later.plus(SETTINGS.refreshInterval()), s.nextAt());
    assertEquals(Optional.of("\"r1\""), s.etag(), "a 304 keeps the ETag");
  }

  @Test
  void aHintDuringAFetchIsDueWhenItEndsNotBefore() {
    FleetSchedule s = new FleetSchedule(SETTINGS, new SplittableRandom(1), T0);
    s.fetched(T0, T0, Optional.empty(), null);
    Instant due = s.nextAt();
    s.fetchNow(T0.plusSeconds(5), true);
    assertEquals(due, s.nextAt(), "a second fetch beside the one under way");
    s.ended(T0.plusSeconds(6));
    assertEquals(T0.plusSeconds(6), s.nextAt());
  }

  @Test
  void aFailureBacksOffWithinTheCapAndASuccessClearsIt() {
    FleetSchedule s = new FleetSchedule(SETTINGS, new SplittableRandom(1), T0);
    Duration d = s.failed(T0, FailureClass.TRANSIENT, Optional.empty(), Optional.empty());
    assertEquals(1, s.failures());
    assertEquals(T0.plus(d), s.nextAt());
    assertTrue(d.compareTo(SETTINGS.backoffCap()) <= 0, d.toString());
    s.fetched(T0.plus(d), T0.plus(d), Optional.empty(), null);
    assertEquals(0, s.failures());
  }
}
