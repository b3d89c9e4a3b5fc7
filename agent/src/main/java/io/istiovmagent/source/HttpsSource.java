package io.istiovmagent.source;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.X509TrustManager;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * A bundle served as a gzip'd tar over HTTPS. TLS 1.2 or newer with hostname verification; there is no way to turn
 * verification off. A redirect is followed only to another https:// URL, and the credential is not sent to another
 * host.
 */
public final class HttpsSource implements BundleSource {
  /** The longest Retry-After honoured, in seconds, whichever form it takes. */
  private static final long MAX_RETRY_AFTER = 86_400;
  private final HttpUrl url;
  private final OkHttpClient client;
  private final Optional<BearerToken> credential;
  private final String userAgent;
  private final Clock clock;

  public HttpsSource(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration timeout,
      String userAgent, Clock clock) {
    this(url, trust, credential, timeout, userAgent, clock, HttpsClients.NO_EVENTS);
  }

  /**
   * As above, with {@code events} observing each fetch's HTTP call (see HttpsClients); the fleet benchmark reaches
   * it through a test-scope bridge in this package.
   */
  HttpsSource(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration timeout,
      String userAgent, Clock clock, EventListener.Factory events) {
    if (!url.isHttps()) {
      throw new IllegalArgumentException("HttpsSource needs an https:// URL");
    }
    this.url = url;
    this.credential = Objects.requireNonNull(credential, "credential == null");
    this.userAgent = userAgent;
    this.clock = clock;
    this.client = HttpsClients.client(trust, timeout, true, events);
  }

  @Override
  public FetchResult fetch(Optional<String> etag) throws SourceException, BadBundleException {
    // Accept-Encoding: identity stops OkHttp from adding "gzip" and then silently gunzipping an archive that a
    // server labels Content-Encoding: gzip; the bytes of the .tar.gz must reach TarGzReader as they are.
    Request.Builder rb = new Request.Builder().url(url).header("Accept", "application/gzip")
        .header("Accept-Encoding", "identity").header("User-Agent", userAgent);
    Optional<BearerToken> presented = present();
    presented.ifPresent(c -> rb.header("Authorization", c.headerValue()));
    etag.ifPresent(e -> rb.header("If-None-Match", e));
    try (Response response = client.newCall(rb.build()).execute()) {
      Optional<Duration> maxAge = maxAge(response);
      if (response.code() == 304 && etag.isPresent()) {
        return new FetchResult.NotModified(maxAge);
      }
      checkStatus(response, presented);
      RawBundle bundle = readBody(response);
      return new FetchResult.Fetched(bundle, Optional.ofNullable(response.header("ETag")), maxAge);
    } catch (IOException e) {
      throw transportFailure(e, url);
    }
  }

  /**
   * A request to {@code url} that got no usable answer, in words a user can act on, decided from the exception's
   * type: TLS, DNS, connect, timeout, or the connection failing. Deregistration reads its failures with it too.
   */
  static SourceException transportFailure(IOException e, HttpUrl url) {
    if (e instanceof SSLException ssl) {
      return tlsFailure(ssl, url);
    }
    if (e instanceof UnknownHostException) {
      return new SourceException(SourceException.Kind.UNREACHABLE,
          "cannot resolve " + url.host() + ": check the host name and DNS", null, e);
    }
    if (e instanceof ConnectException) {
      return new SourceException(SourceException.Kind.UNREACHABLE,
          "cannot connect to " + url.host() + ":" + url.port() + " (" + e.getMessage() + ")", null, e);
    }
    if (e instanceof InterruptedIOException) { // includes SocketTimeoutException and the call timeout
      return new SourceException(SourceException.Kind.UNREACHABLE,
          "timed out talking to " + url.host() + ":" + url.port(), null, e);
    }
    return new SourceException(SourceException.Kind.UNREACHABLE,
        "connection to " + url.host() + ":" + url.port() + " failed: " + e.getMessage(), null, e);
  }

  /** The credential to send: after enrolling first, when the VM can and has no credential of its own yet. */
  private Optional<BearerToken> present() throws SourceException {
    if (credential.isEmpty() || credential.get().owner().isEmpty()) {
      return credential;
    }
    credential.get().owner().get().enrolIfNeeded(url, client, userAgent, clock);
    try {
      return Optional.of(credential.get().current());
    } catch (SourceConfigException e) {
      throw new SourceException(SourceException.Kind.CREDENTIAL_REJECTED, e.getMessage(), null, e);
    }
  }

  private void checkStatus(Response r, Optional<BearerToken> presented) throws SourceException {
    int code = r.code();
    if (code == 200) {
      return;
    }
    String where = describe();
    switch (code) {
      case 401, 403 -> throw new SourceException(SourceException.Kind.CREDENTIAL_REJECTED, "credential rejected (HTTP "
          + code + ") by " + where + ": check bundle.tokenFile"
          + (presented.isEmpty() ? " (none is configured)" : presented.get().rejected()));
      case 404 -> throw new SourceException(SourceException.Kind.NOT_FOUND, "no bundle at " + where
          + " (HTTP 404): check the namespace and workload group in the URL");
      default -> {
        if (r.isRedirect()) {
          String location = r.header("Location");
          HttpUrl target = location == null ? null : r.request().url().resolve(location);
          if (target != null && !target.isHttps()) {
            throw new SourceException(SourceException.Kind.PROTOCOL, where + " redirected to " + target.scheme()
                + "://" + target.host() + "; only redirects to https:// are followed, a bundle never travels over "
                + "plain http");
          }
          throw new SourceException(SourceException.Kind.PROTOCOL, where + " answered HTTP " + code
              + (location == null ? " without a Location header" : " with an unusable Location header"));
        }
        if (code == 429 || code >= 500) {
          Duration retry = retryAfter(r.header("Retry-After")).orElse(null);
          throw new SourceException(SourceException.Kind.UNAVAILABLE, where + " is unavailable (HTTP " + code
              + (retry == null ? "" : ", retry after " + retry.toSeconds() + "s") + ")", retry, null);
        }
        throw new SourceException(SourceException.Kind.PROTOCOL, where + " answered HTTP " + code
            + ", expected 200 with a gzip'd tar");
      }
    }
  }

  private static RawBundle readBody(Response r) throws IOException, BadBundleException {
    ResponseBody body = r.body();
    try (InputStream in = body.byteStream()) {
      return TarGzReader.readCapped(in, body.contentLength(), "the response");
    }
  }

  /** The server's refresh hint; only a positive max-age counts. */
  private static Optional<Duration> maxAge(Response r) {
    int seconds = r.cacheControl().maxAgeSeconds();
    return seconds > 0 ? Optional.of(Duration.ofSeconds(seconds)) : Optional.empty();
  }

  /** Seconds or an HTTP-date; absent, negative or unparsable values are ignored. */
  Optional<Duration> retryAfter(String value) {
    return retryAfter(value, clock);
  }

  /**
   * A Retry-After header's value, seconds or an HTTP-date (against {@code clock}), between zero (a date in the past)
   * and {@link #MAX_RETRY_AFTER}; absent, negative or unparsable values are ignored. The report endpoint's answers
   * are read with it too.
   */
  public static Optional<Duration> retryAfter(String value, Clock clock) {
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    String v = value.strip();
    try {
      long seconds = Long.parseLong(v);
      return seconds < 0 ? Optional.empty() : Optional.of(clamp(Duration.ofSeconds(seconds)));
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        return Optional.of(clamp(Duration.between(clock.instant(), at.toInstant())));
      } catch (DateTimeParseException notDate) {
        return Optional.empty();
      }
    }
  }

  /** Between zero (a date in the past) and {@link #MAX_RETRY_AFTER}, whichever form the header took. */
  private static Duration clamp(Duration d) {
    Duration max = Duration.ofSeconds(MAX_RETRY_AFTER);
    return d.isNegative() ? Duration.ZERO : d.compareTo(max) > 0 ? max : d;
  }

  /** A TLS failure in words a user can act on, decided from the exception's type and its causes' types. */
  SourceException tlsFailure(SSLException e) {
    return tlsFailure(e, url);
  }

  private static SourceException tlsFailure(SSLException e, HttpUrl url) {
    String where = url.host() + ":" + url.port();
    String reason;
    if (e instanceof SSLPeerUnverifiedException) {
      reason = "the server's certificate does not name " + url.host() + " (hostname mismatch)";
    } else if (hasCause(e, CertificateExpiredException.class)) {
      reason = "the server's certificate has expired";
    } else if (hasCause(e, CertificateNotYetValidException.class)) {
      reason = "the server's certificate is not valid yet (check this machine's clock)";
    } else if (algorithmConstrained(e)) {
      reason = "the server's certificate uses a signature algorithm or key size this Java runtime refuses (e.g. "
          + "SHA-1, or RSA under 2048 bits); the server needs a certificate signed with SHA-256 or better";
    } else if (hasCause(e, CertPathBuilderException.class) || hasCause(e, CertPathValidatorException.class)) {
      // The types, not the message: "PKIX path building failed" is one provider's wording.
      reason = "the server's certificate is not signed by a trusted CA; add the CA with --ca-file or bundle.caFile "
          + "(or, under bundle.trust: system+caFile, to the system store with update-ca-certificates)";
    } else if (e instanceof SSLHandshakeException) {
      reason = "the TLS handshake failed (" + e.getMessage() + ")";
    } else {
      reason = "TLS failed (" + e.getMessage() + ")";
    }
    return new SourceException(SourceException.Kind.TLS, "TLS to " + where + " refused: " + reason, null, e);
  }

  private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
    return cause(t, type) != null;
  }

  private static <T extends Throwable> T cause(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  private static boolean algorithmConstrained(Throwable t) {
    CertPathValidatorException v = cause(t, CertPathValidatorException.class);
    return v != null && v.getReason() == CertPathValidatorException.BasicReason.ALGORITHM_CONSTRAINED;
  }

  @Override
  public String describe() {
    return url.newBuilder().query(null).fragment(null).build().toString();
  }
}
