package io.istiovmagent.source;

import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.ConnectionPool;
import okhttp3.ConnectionSpec;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;

/**
 * The one way the agent builds an HTTPS client to the control plane: TLS 1.2+ only, the given trust (never
 * "trust all"), hostname verification on, every wait bounded, and no retries but one: a request that failed on a
 * reused connection before any response goes once more on a new one ({@link StaleConnectionRetry}).
 */
public final class HttpsClients {
  /**
   * How long an idle connection is kept for reuse: less than the shortest idle timeout common servers use (Apache
   * httpd 5 s, the JDK's HttpServer behind the reference endpoint ~30 s, nginx 75 s, OkHttp's own default 5 min).
   *
   * <p>It was the guard against requests sent on a connection the server had closed (OkHttp reuses a pooled
   * connection without checking it for a GET, and for other requests when it was idle under 10 s); {@link
   * StaleConnectionRetry} is that guard now. It stays short because keeping connections across heartbeats (60-72 s
   * apart) does not pay by default (docs/performance.md, "Connection reuse across heartbeats"): the reference
   * endpoint closes an idle connection after ~30 s, so no heartbeat could reuse one; a reused report would cost
   * 1.4 kB instead of 3.7 kB and no handshake only against a server keeping connections longer, while a firewall or
   * NAT that drops an idle flow silently would turn the reuse into a timeout (not retried: the server may have the
   * request). What a short keep-alive still reuses is a burst (a change report right after another, a redirect).
   */
  static final Duration KEEP_ALIVE = Duration.ofSeconds(4);
  /** The agent talks to one or two hosts (bundle source, report endpoint), one request at a time each. */
  private static final int MAX_IDLE_CONNECTIONS = 2;
  /** Observes nothing: what the agent itself uses. */
  public static final EventListener.Factory NO_EVENTS = call -> EventListener.NONE;

  private HttpsClients() {}

  /**
   * @param followHttpsRedirects whether a redirect to another https:// URL is followed (a redirect to plain http
   *     never is; the credential is not sent to another host)
   */
  public static OkHttpClient client(X509TrustManager trust, Duration timeout, boolean followHttpsRedirects) {
    return client(trust, timeout, followHttpsRedirects, NO_EVENTS);
  }

  /**
   * The same client, with {@code events} told of each call's steps. Only the fleet benchmark (bench/p5-fleet) passes
   * one: it times every request of thousands of simulated agents, and there is no other way to see inside the
   * Reporter's and HttpsSource's calls. A listener only observes; trust, timeouts and retries are the same.
   */
  public static OkHttpClient client(X509TrustManager trust, Duration timeout, boolean followHttpsRedirects,
      EventListener.Factory events) {
    ConnectionPool pool = new ConnectionPool(MAX_IDLE_CONNECTIONS, KEEP_ALIVE.toMillis(), TimeUnit.MILLISECONDS);
    StaleConnectionRetry staleRetry = new StaleConnectionRetry(pool);
    return new OkHttpClient.Builder()
        .eventListenerFactory(events)
        .addInterceptor(staleRetry.application())
        .addNetworkInterceptor(staleRetry.network())
        .sslSocketFactory(sslContext(trust).getSocketFactory(), trust)
        .connectionSpecs(List.of(ConnectionSpec.MODERN_TLS))
        .followRedirects(followHttpsRedirects)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
        .connectionPool(pool)
        .connectTimeout(timeout)
        .readTimeout(timeout)
        .writeTimeout(timeout)
        .callTimeout(timeout.multipliedBy(2))
        .build();
  }

  private static SSLContext sslContext(X509TrustManager trust) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {trust}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("TLS is not available in this Java runtime", e);
    }
  }
}
