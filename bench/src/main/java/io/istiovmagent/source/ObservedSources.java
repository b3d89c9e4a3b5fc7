package io.istiovmagent.source;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.X509TrustManager;
import okhttp3.EventListener;
import okhttp3.HttpUrl;

/**
 * The fleet benchmark's way to an {@link HttpsSource} whose calls it times (bench/CallRecorder): a test-scope bridge
 * in this package, so that the constructor taking a listener stays package-private.
 */
public final class ObservedSources {
  private ObservedSources() {}

  public static HttpsSource httpsSource(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential,
      Duration timeout, String userAgent, Clock clock, EventListener.Factory events) {
    return new HttpsSource(url, trust, credential, timeout, userAgent, clock, events);
  }
}
