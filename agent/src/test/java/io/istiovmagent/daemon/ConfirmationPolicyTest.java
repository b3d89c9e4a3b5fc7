package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.daemon.ConfirmationPolicy.Confirmation;
import io.istiovmagent.daemon.ConfirmationPolicy.Keeper;
import io.istiovmagent.daemon.RefreshPolicy.Next;
import io.istiovmagent.daemon.RefreshPolicy.Reason;
import io.istiovmagent.daemon.RefreshPolicy.TokenWindow;
import io.istiovmagent.util.Durations;
import java.time.Instant;
import java.util.Optional;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfirmationPolicyTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
  private static final RefreshPolicy TEN_MINUTES = RefreshPolicy.withDefaults();

  /**
   * refreshInterval 10m; the token (issued at 0, of the given lifetime, "-" for none); the keeper as the
   * confirmation finds it; the confirmation (revision "r1" is the installed one); what the next fetch becomes ("-":
   * unchanged). Times are offsets from T0.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // case                                           now  |checked|sched.|reason     |token|fail |flight|rev|sent|same |next |why
      "confirmed: the interval runs from the report     | 5m | 0s   | 10m  | INTERVAL  | 1h | false| false | r1 | 5m | true | 15m | INTERVAL",
      "confirmed again later: further still             | 14m| 0s   | 15m  | INTERVAL  | 1h | false| false | r1 | 14m| true | 24m | INTERVAL",
      "no token: the interval alone                     | 5m | 0s   | 10m  | INTERVAL  | -  | false| false | r1 | 5m | true | 15m | INTERVAL",
      "24h token: the interval alone                    | 5m | 0s   | 10m  | INTERVAL  | 24h| false| false | r1 | 5m | true | 15m | INTERVAL",
      "never past the token's half-life                 | 24m| 15m  | 25m  | INTERVAL  | 1h | false| false | r1 | 24m| true | 30m | HALF_LIFE",
      "half-life already the scheduled time: unchanged  | 25m| 20m  | 30m  | INTERVAL  | 1h | false| false | r1 | 25m| true | -   | -",
      "a HALF_LIFE refresh is never postponed           | 25m| 20m  | 30m  | HALF_LIFE | 1h | false| false | r1 | 25m| true | -   | -",
      "a STALE_TOKEN retry is never postponed           | 40m| 40m  | 41m  | STALE_TOKEN| 1h | false| false | r1 | 40m30s| true | - | -",
      "report endpoint at another origin: unchanged     | 5m | 0s   | 10m  | INTERVAL  | 1h | false| false | r1 | 5m | false| -   | -",
      "another revision than the installed: unchanged   | 5m | 0s   | 10m  | INTERVAL  | 1h | false| false | r0 | 5m | true | -   | -",
      "no revision in the report: unchanged             | 5m | 0s   | 10m  | INTERVAL  | 1h | false| false | -  | 5m | true | -   | -",
      "fetches failing, the backoff rules: unchanged    | 5m | 0s   | 10m  | INTERVAL  | 1h | true | false | r1 | 5m | true | -   | -",
      "after a failure nothing is scheduled by a rule   | 5m | 0s   | -    | -         | 1h | true | false | r1 | 5m | true | -   | -",
      "a fetch under way: unchanged                     | 5m | 0s   | 10m  | INTERVAL  | 1h | false| true  | r1 | 5m | true | -   | -",
      "a fetch due now: unchanged                       | 10m| 0s   | 10m  | INTERVAL  | 1h | false| false | r1 | 9m | true | -   | -",
      "a fetch overdue: unchanged                       | 11m| 0s   | 10m  | INTERVAL  | 1h | false| false | r1 | 9m | true | -   | -",
      "report sent before the last fetch: unchanged     | 5m | 3m   | 13m  | INTERVAL  | 1h | false| false | r1 | 2m | true | -   | -",
      "report sent at the last fetch: unchanged         | 5m | 3m   | 13m  | INTERVAL  | 1h | false| false | r1 | 3m | true | -   | -",
      "older than a confirmation already taken          | 7m | 0s   | 16m  | INTERVAL  | 1h | false| false | r1 | 5m | true | -   | -",
      "no fetch yet (last-known-good): unchanged        | 5m | -    | 10m  | INTERVAL  | 1h | false| false | r1 | 5m | true | -   | -",
  })
  void postponesOnlyTheIntervalRefresh(String name, String now, String checked, String scheduledAt,
      Reason scheduledReason, String lifetime, boolean failing, boolean underWay, String revision, String sent,
      boolean sameOrigin, String next, Reason why) {
    Next scheduled = scheduledAt == null ? null : new Next(at(scheduledAt), scheduledReason);
    Optional<TokenWindow> token = lifetime == null ? Optional.empty()
        : Optional.of(new TokenWindow(T0, at(lifetime)));
    Optional<Next> expected = next == null ? Optional.empty() : Optional.of(new Next(at(next), why));
    assertEquals(expected, ConfirmationPolicy.postpone(TEN_MINUTES,
        new Keeper(at(now), "r1", checked == null ? null : at(checked), scheduled, token, failing, underWay),
        new Confirmation(revision, at(sent), sameOrigin)));
  }

  @Test
  void aStaleTokenRetryIsNeverPostponedEvenWhenTheHalfLifeIsStillAhead() {
    // An issuer whose token expires before its iat, iat in the future: RefreshPolicy calls it unusable (STALE_TOKEN,
    // a retry in 1m), though its "half-life" (iat + a negative half) lies ahead. The cap at the half-life alone
    // would let a confirmation move the retry there.
    Optional<TokenWindow> token = Optional.of(new TokenWindow(at("10m"), at("5m")));
    Next scheduled = TEN_MINUTES.next(T0, token);
    assertEquals(new Next(at("1m"), Reason.STALE_TOKEN), scheduled);
    assertEquals(Optional.empty(), ConfirmationPolicy.postpone(TEN_MINUTES,
        new Keeper(at("30s"), "r1", T0, scheduled, token, false, false), new Confirmation("r1", at("30s"), true)));
  }

  @ParameterizedTest(name = "{0} vs {1}: {2}")
  @CsvSource({
      "https://plane.example/v1/health,       https://plane.example/v1/bundle/ns/g,        true",
      "https://plane.example:443/v1/health,   https://plane.example/v1/bundle/ns/g,        true",
      "https://plane.example/v1/health,       https://PLANE.example:443/v1/bundle/ns/g,    true",
      "https://plane.example:8443/v1/health,  ' https://plane.example:8443/v1/bundle/ns/g', true",
      "https://plane.example:8443/v1/health,  https://plane.example/v1/bundle/ns/g,        false",
      "https://plane.example/v1/health,       https://cdn.plane.example/v1/bundle/ns/g,    false",
      "https://plane.example/v1/health,       https://example/v1/bundle/ns/g,              false",
      "https://127.0.0.1/v1/health,           https://localhost/v1/bundle/ns/g,            false",
      "https://plane.example/v1/health,       /srv/bundles/hello-vm,                        false",
      "https://plane.example/v1/health,       file:///srv/bundles/hello-vm,                 false",
      "https://plane.example/v1/health,       http://plane.example:443/v1/bundle/ns/g,      false",
  })
  void sameOriginIsSchemeHostAndPort(String report, String source, boolean same) {
    assertEquals(same, ConfirmationPolicy.sameOrigin(HttpUrl.get(report), source));
  }

  private static Instant at(String offset) {
    return T0.plus(Durations.parse(offset));
  }
}
