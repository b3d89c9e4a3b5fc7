package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.daemon.RefreshPolicy.Next;
import io.istiovmagent.daemon.RefreshPolicy.Reason;
import io.istiovmagent.daemon.RefreshPolicy.TokenWindow;
import io.istiovmagent.util.Durations;
import io.istiovmagent.verify.TokenClaims;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RefreshPolicyTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  /** Every time is an offset from T0; "-" for no token. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // case                                                lastOk | iat   | exp   | interval | next   | reason
      "1h token, interval 1h: refreshes at half-life         | 0s     | 0s    | 1h    | 1h       | 30m    | HALF_LIFE",
      "1h token, default 10m interval comes first            | 0s     | 0s    | 1h    | 10m      | 10m    | INTERVAL",
      "24h token, 10m interval                               | 0s     | 0s    | 24h   | 10m      | 10m    | INTERVAL",
      "interval equal to half-life: the interval, same time  | 0s     | 0s    | 1h    | 30m      | 30m    | INTERVAL",
      "10m token, 10m interval: the token rule dominates     | 0s     | 0s    | 10m   | 10m      | 5m     | HALF_LIFE",
      "8m token: half-life (4m), not exp - 5m (3m)           | 0s     | 0s    | 8m    | 10m      | 4m     | HALF_LIFE",
      "5m token: exp - 5m is issuance; half-life applies     | 0s     | 0s    | 5m    | 10m      | 2m30s  | HALF_LIFE",
      "2h token fetched 40m into its life: at its half-life  | 40m    | 0s    | 2h    | 1h       | 1h     | HALF_LIFE",
      "issuer clock ahead: iat after the fetch               | 0s     | 3m    | 1h3m  | 1h       | 33m    | HALF_LIFE",
      "15s token: half-life in 7.5s, held back to the floor  | 0s     | 0s    | 15s   | 10m      | 10s    | HALF_LIFE",
      "fetched 10s before half-life: at the half-life        | 4m50s  | 0s    | 10m   | 10m      | 5m     | HALF_LIFE",
      "fetched 1s before half-life: held back to the floor   | 4m59s  | 0s    | 10m   | 10m      | 5m9s   | HALF_LIFE",
      "fetched exactly at half-life: a quarter of 30m left   | 30m    | 0s    | 1h    | 10m      | 37m30s | STALE_TOKEN",
      "fetched past half-life: a quarter of 15m left         | 45m    | 0s    | 1h    | 10m      | 48m45s | STALE_TOKEN",
      "2m left: a quarter is 30s, once a minute at the most  | 58m    | 0s    | 1h    | 10m      | 59m    | STALE_TOKEN",
      "a day's token past half-life: refreshInterval at most | 13h    | 0s    | 24h   | 10m      | 13h10m | STALE_TOKEN",
      "stale with a 30s interval: the interval               | 45m    | 0s    | 1h    | 30s      | 45m30s | STALE_TOKEN",
      "exp before iat: treated as expired, soonest           | 0s     | 10m   | 5m    | 10m      | 1m     | STALE_TOKEN",
      "exp equal to iat: treated as expired, soonest         | 0s     | 0s    | 0s    | 1h       | 1m     | STALE_TOKEN",
      "already expired when fetched: soonest                 | 2h     | 0s    | 1h    | 10m      | 2h1m   | STALE_TOKEN",
      "no token: every refreshInterval                       | 0s     | -     | -     | 10m      | 10m    | INTERVAL",
      "no token, 1h interval                                 | 5m     | -     | -     | 1h       | 1h5m   | INTERVAL",
  })
  void schedulesTheNextFetch(String name, String lastOk, String iat, String exp, String interval, String next,
      Reason reason) {
    Instant lastSuccess = at(lastOk);
    Optional<TokenWindow> token = iat == null ? Optional.empty() : Optional.of(new TokenWindow(at(iat), at(exp)));
    Next n = new RefreshPolicy(Durations.parse(interval)).next(lastSuccess, token);
    assertEquals(new Next(at(next), reason), n);
    assertFalse(n.at().isBefore(lastSuccess.plus(RefreshPolicy.MIN_DELAY)), "never sooner than the floor");
  }

  @ParameterizedTest(name = "{0} token")
  @ValueSource(strings = {"10m", "11m", "15m", "1h", "8h", "24h", "7d"})
  void leavesAtLeastFiveMinutesBeforeExpiryForTokensOfTenMinutesOrMore(String lifetime) {
    Duration life = Durations.parse(lifetime);
    TokenWindow token = new TokenWindow(T0, T0.plus(life));
    // An interval too long to matter, and fetches at several points up to the last one the MIN_DELAY floor leaves
    // alone (see the 'fetched 1s before half-life' row for the one after it).
    RefreshPolicy policy = new RefreshPolicy(Duration.ofDays(365));
    Duration lastChance = life.dividedBy(2).minus(RefreshPolicy.MIN_DELAY);
    for (Duration into : List.of(Duration.ZERO, Duration.ofSeconds(1), life.dividedBy(4), lastChance)) {
      Instant next = policy.next(T0.plus(into), Optional.of(token)).at();
      assertFalse(next.isAfter(token.expires().minus(RefreshPolicy.EXPIRY_MARGIN)),
          lifetime + " token fetched " + into + " into its life refreshes at " + next);
    }
  }

  @ParameterizedTest(name = "{0} token")
  @ValueSource(strings = {"20s", "1m", "4m", "9m59s"})
  void refreshesShortTokensAtHalfLifeNotBeforeIssuance(String lifetime) {
    Duration life = Durations.parse(lifetime);
    Next n = new RefreshPolicy(Duration.ofHours(1)).next(T0, Optional.of(new TokenWindow(T0, T0.plus(life))));
    assertEquals(new Next(T0.plus(life.dividedBy(2)), Reason.HALF_LIFE), n);
  }

  @Test
  void aSourceThatAlwaysServesTheSameTokenIsPolledMoreOftenAsItsExpiryNears() {
    // A static file: directory: the same 1h token on every read. Successes until it expires (verification refuses
    // it after that), each scheduled from the previous one.
    RefreshPolicy policy = RefreshPolicy.withDefaults();
    Optional<TokenWindow> token = Optional.of(new TokenWindow(T0, T0.plus(Duration.ofHours(1))));
    Instant t = T0;
    List<Duration> gaps = new ArrayList<>();
    while (t.isBefore(token.get().expires())) {
      Instant next = policy.next(t, token).at();
      gaps.add(Duration.between(t, next));
      t = next;
    }
    // 0, 10, 20 minutes by the interval, 30 at the half-life; then a quarter of the time left: 7.5 min, 5.6, 4.2...
    // down to once a minute in the last 4 minutes: 11 fetches over the last half hour, not 29.
    assertEquals(4 + 11, gaps.size(), gaps.toString());
    for (int i = 4; i < gaps.size(); i++) {
      assertTrue(gaps.get(i).compareTo(gaps.get(i - 1)) <= 0, "closer as exp nears: " + gaps);
      assertTrue(gaps.get(i).compareTo(Duration.ofMinutes(1)) >= 0, "never more than once a minute: " + gaps);
    }
    assertEquals(Duration.ofMinutes(1), gaps.get(gaps.size() - 1));
  }

  @ParameterizedTest(name = "iat={0} nbf={1} exp={2}")
  @CsvSource(nullValues = "-", value = {
      "1m, 2m, 1h, 1m",
      "-,  2m, 1h, 2m",
      "-,  -,  1h, 7m",
  })
  void tokenIssuedAtIsIatElseNbfElseTheFetchTime(String iat, String nbf, String exp, String issued) {
    TokenClaims claims = new TokenClaims("system:serviceaccount:ns:sa", List.of(TokenClaims.AUDIENCE), at(exp),
        nbf == null ? null : at(nbf), iat == null ? null : at(iat), "RS256");
    Instant fetchedAt = at("7m");
    assertEquals(Optional.of(new TokenWindow(at(issued), at(exp))), TokenWindow.of(claims, fetchedAt));
  }

  @Test
  void noTokenGivesNoWindowSoOnlyTheIntervalApplies() {
    assertEquals(Optional.empty(), TokenWindow.of(null, T0));
    // A token without an expiry cannot be a verified one, so it never reaches the schedule (issue 12).
    assertThrows(NullPointerException.class,
        () -> new TokenClaims("sub", List.of(TokenClaims.AUDIENCE), null, null, T0, "RS256"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0s", "9s", "999ms"})
  void refusesAnIntervalShorterThanTheConfigMinimum(String interval) {
    assertThrows(IllegalArgumentException.class, () -> new RefreshPolicy(Durations.parse(interval)));
  }

  @Test
  void acceptsTheShortestIntervalTheConfigAccepts() throws Exception {
    AgentConfig c = ConfigLoader.parse("config.yaml", "bundle:\n  refreshInterval: 10s\n");
    assertEquals(RefreshPolicy.MIN_DELAY, new RefreshPolicy(c.bundle().refreshInterval()).refreshInterval());
    assertEquals(AgentConfig.DEFAULT_REFRESH, RefreshPolicy.DEFAULT_INTERVAL);
  }

  private static Instant at(String offset) {
    return T0.plus(Durations.parse(offset));
  }
}
