package io.istiovmagent.report;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.random.RandomGenerator;
import javax.net.ssl.X509TrustManager;
import okhttp3.EventListener;
import okhttp3.HttpUrl;

/**
 * The fleet benchmark's way to a {@link Reporter} whose calls it times (bench/CallRecorder): a test-scope bridge in
 * this package, so that the constructor taking a listener stays package-private.
 */
public final class ObservedReporters {
  private ObservedReporters() {}

  public static Reporter reporter(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential,
      Duration interval, Duration timeout, Backoff backoff, RandomGenerator random, HealthReport.Host host,
      Clock clock, Log log, String userAgent, Reporter.Hints hints, EventListener.Factory events) {
    return new Reporter(url, trust, credential, interval, timeout, backoff, random, host, clock, log, userAgent,
        hints, events);
  }
}
