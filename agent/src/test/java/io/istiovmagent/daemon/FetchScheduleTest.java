package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

/** Which backoff a failed fetch gets: the exponential one before the source has answered, the refresh's after. */
class FetchScheduleTest {
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");
  private static final Optional<Duration> HALF_HOUR = Optional.of(Duration.ofMinutes(30));
  private static final AgentConfig.Bundle CONFIG = new AgentConfig.Bundle(Optional.of("https://x"), Optional.empty(),
      Optional.empty(), Duration.ofMinutes(10), Duration.ofSeconds(30), Duration.ofMinutes(5),
      AgentConfig.Trust.SYSTEM_AND_CA_FILE);

  /** Always the highest value of the range asked for (bound is exclusive). */
  private static final RandomGenerator HIGHEST = new RandomGenerator() {
    @Override
    public long nextLong() {
      throw new AssertionError("the backoff draws from an explicit range");
    }

    @Override
    public long nextLong(long origin, long bound) {
      return bound - 1;
    }
  };

  private static FetchSchedule schedule() {
    FetchSchedule s = new FetchSchedule(HIGHEST, T0);
    s.reset(CONFIG, T0);
    return s;
  }

  @Test
  void theFirstFetchBacksOffExponentially() {
    assertEquals(Duration.ofSeconds(1), schedule().onFailed(T0, FailureClass.TRANSIENT, Optional.empty(), HALF_HOUR),
        "a token restored from the last-known-good copy does not make the first fetch a refresh");
  }

  @Test
  void aFailedRefreshDrawsFromTheWholeCapUntilANewSource() {
    FetchSchedule s = schedule();
    s.checked(T0);
    s.onFetched(Optional.empty(), new TokenClaims("system:serviceaccount:ns:sa", List.of(TokenClaims.AUDIENCE),
        T0.plus(Duration.ofHours(1)), null, T0, "RS256"));
    Instant later = T0.plus(Duration.ofMinutes(30));
    assertEquals(Duration.ofMinutes(5), s.onFailed(later, FailureClass.TRANSIENT, Optional.empty(), HALF_HOUR));
    s.reset(CONFIG, later);
    assertEquals(Duration.ofSeconds(1), s.onFailed(later, FailureClass.TRANSIENT, Optional.empty(), HALF_HOUR),
        "a new source has not answered yet");
  }
}
