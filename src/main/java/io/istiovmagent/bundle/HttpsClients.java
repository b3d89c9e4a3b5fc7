package io.istiovmagent.bundle;

import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.ConnectionSpec;
import okhttp3.OkHttpClient;

/**
 * The one way the agent builds an HTTPS client to the control plane: TLS 1.2+ only, the given trust (never
 * "trust all"), hostname verification on, no silent retries, every wait bounded.
 */
public final class HttpsClients {
  private HttpsClients() {}

  /**
   * @param followHttpsRedirects whether a redirect to another https:// URL is followed (a redirect to plain http
   *     never is; the credential is not sent to another host)
   */
  public static OkHttpClient client(X509TrustManager trust, Duration timeout, boolean followHttpsRedirects) {
    return new OkHttpClient.Builder()
        .sslSocketFactory(sslContext(trust).getSocketFactory(), trust)
        .connectionSpecs(List.of(ConnectionSpec.MODERN_TLS))
        .followRedirects(followHttpsRedirects)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
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
