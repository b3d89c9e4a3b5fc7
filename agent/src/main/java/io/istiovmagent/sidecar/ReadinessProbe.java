package io.istiovmagent.sidecar;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Asks the sidecar whether it is ready: an HTTP GET of Envoy's readiness endpoint (port 15021, which pilot-agent
 * answers 200 once Envoy has its configuration). Only loopback URLs are accepted, so the probe never reaches into
 * the network; no proxy, no redirects, no DNS.
 */
public final class ReadinessProbe {
  public static final String DEFAULT_URL = "http://127.0.0.1:15021/healthz/ready";
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
  private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");

  private final HttpUrl url;
  private final OkHttpClient client;

  /**
   * @throws IllegalArgumentException when {@code url} is not http(s) or its host is not {@code localhost} or a
   *     loopback address literal (127.0.0.0/8, ::1)
   */
  public ReadinessProbe(String url, Duration timeout) {
    Objects.requireNonNull(url, "url == null");
    Objects.requireNonNull(timeout, "timeout == null");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the readiness probe timeout must be positive: " + timeout);
    }
    this.url = loopbackUrl(url);
    this.client = new OkHttpClient.Builder()
        // A system-wide proxy setting must not carry a loopback probe off the machine.
        .proxy(Proxy.NO_PROXY)
        // localhost is not looked up: /etc/hosts is edited by others (cloud-init, us) and could point it anywhere.
        .dns(ReadinessProbe::loopbackOnly)
        // A redirect could name any host; the answer we want is the status of this URL.
        .followRedirects(false)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
        // One loopback address: connect on the calling thread, not as racing attempts on OkHttp's task threads
        // (happy eyeballs), which would keep those threads busy for a probe every few seconds.
        .fastFallback(false)
        // No idle connections kept: Envoy restarts under us, and a stale pooled socket would read as "not ready".
        .connectionPool(new ConnectionPool(0, 1, TimeUnit.SECONDS))
        .connectTimeout(timeout)
        .readTimeout(timeout)
        .writeTimeout(timeout)
        .callTimeout(timeout)
        .build();
  }

  /** The default endpoint with the default timeout. */
  public static ReadinessProbe defaults() {
    return new ReadinessProbe(DEFAULT_URL, DEFAULT_TIMEOUT);
  }

  public HttpUrl url() {
    return url;
  }

  /** One probe; never throws for anything the endpoint or the network does. */
  public Readiness probe() {
    Request request = new Request.Builder().url(url).build();
    try (Response response = client.newCall(request).execute()) {
      return response.code() == 200 ? Readiness.READY : new Readiness.NotReady("HTTP " + response.code());
    } catch (ConnectException e) {
      return new Readiness.NotReady("connection refused");
    } catch (InterruptedIOException e) { // SocketTimeoutException and the call timeout
      return new Readiness.NotReady("timed out");
    } catch (IOException e) {
      return new Readiness.NotReady("connection failed: " + e.getMessage());
    }
  }

  /** Parses {@code text} and refuses anything but http(s) to a loopback host. */
  public static HttpUrl loopbackUrl(String text) {
    HttpUrl u = HttpUrl.parse(text.strip());
    if (u == null) {
      throw new IllegalArgumentException("sidecar.readinessUrl is not an http:// URL; the default is " + DEFAULT_URL);
    }
    if (!isLoopbackHost(u.host())) {
      throw new IllegalArgumentException("sidecar.readinessUrl must point at this machine (localhost, 127.0.0.1 or "
          + "[::1]), not " + u.host() + "; the readiness endpoint is local, the default is " + DEFAULT_URL);
    }
    if (!u.username().isEmpty() || !u.password().isEmpty()) {
      throw new IllegalArgumentException("sidecar.readinessUrl must not carry a user name or password");
    }
    return u;
  }

  /** localhost, a 127.0.0.0/8 dotted quad or ::1, judged from the text alone, without any lookup. */
  static boolean isLoopbackHost(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.equals("localhost") || h.equals("::1")) {
      return true;
    }
    Matcher m = IPV4.matcher(h);
    if (!m.matches() || !m.group(1).equals("127")) {
      return false;
    }
    for (int i = 2; i <= 4; i++) {
      if (Integer.parseInt(m.group(i)) > 255) {
        return false;
      }
    }
    return true;
  }

  /** The probe's resolver: localhost is 127.0.0.1 and ::1, and nothing else has an address. */
  static List<InetAddress> loopbackOnly(String host) throws UnknownHostException {
    if (host.equalsIgnoreCase("localhost")) {
      return List.of(InetAddress.getByAddress("localhost", new byte[] {127, 0, 0, 1}),
          InetAddress.getByAddress("localhost", new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    }
    throw new UnknownHostException(host + " is not looked up by the readiness probe");
  }

  @Override
  public String toString() {
    return "readiness probe of " + url;
  }
}
