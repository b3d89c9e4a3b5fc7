package io.istiovmagent.source;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.net.ssl.X509TrustManager;
import okhttp3.Call;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * DELETE /v1/vms/{namespace}/{group}/{machineId} (docs/protocol.md): tells the onboarding service that this VM
 * leaves, with the VM's own credential, over the agent's one HTTPS client ({@link HttpsClients}). One request,
 * bounded in total by the timeout, no redirect followed; its answer becomes one of a few outcomes, decided from the
 * status code and the exception's type, never from a message.
 */
public final class Deregistration {
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern MACHINE_ID = Pattern.compile("[0-9a-f]{32}");
  private static final int MAX_ANSWER = 16 * 1024;

  /** Where the DELETE goes: the service of a bundle URL {@code .../v1/bundle/NS/GROUP}, and this VM. */
  public record Target(HttpUrl url, String namespace, String group, String machineId) {
    public Target {
      Objects.requireNonNull(url, "url == null");
    }

    /** The service, for messages: host and port, never a path or query. */
    public String where() {
      return url.host() + ":" + url.port();
    }
  }

  /** What the service made of it. */
  public sealed interface Outcome {
    /** 204: the VM is no longer registered (or never was: the request is idempotent). */
    record Deregistered() implements Outcome {}

    /** 404, 405 or 501: a service older than deregistration, or a server that is no onboarding service. */
    record Unsupported(int status) implements Outcome {}

    /** 401 or 403: the service refused the VM's credential; {@code reason} is the service's, or "". */
    record Refused(int status, String reason) implements Outcome {}

    /** No answer (unreachable, TLS, timeout), 429 or 5xx, or an answer the protocol does not give. */
    record Failed(String reason) implements Outcome {}
  }

  private Deregistration() {}

  /**
   * The target for the bundle source {@code bundleUrl}; empty when it is not a protocol v1 bundle URL whose namespace
   * and group are DNS labels (a service that could never have served, or enrolled, this VM), or when {@code
   * machineId} is not 32 hexadecimal digits.
   */
  public static Optional<Target> target(HttpUrl bundleUrl, String machineId) {
    List<String> seg = bundleUrl.pathSegments();
    int n = seg.size();
    if (n < 4 || !seg.get(n - 4).equals("v1") || !seg.get(n - 3).equals("bundle")
        || !DNS_LABEL.matcher(seg.get(n - 2)).matches() || !DNS_LABEL.matcher(seg.get(n - 1)).matches()
        || machineId == null || !MACHINE_ID.matcher(machineId).matches()) {
      return Optional.empty();
    }
    HttpUrl url = bundleUrl.newBuilder().query(null).fragment(null).setPathSegment(n - 3, "vms")
        .addPathSegment(machineId).build();
    return Optional.of(new Target(url, seg.get(n - 2), seg.get(n - 1), machineId));
  }

  /** Sends the DELETE with {@code credential}; returns within about {@code timeout}, whatever the service does. */
  public static Outcome send(Target target, X509TrustManager trust, BearerToken credential, Duration timeout,
      String userAgent, Clock clock) {
    // A redirect is not followed: OkHttp would turn a DELETE redirected by 301/302 into a GET, whose 200 means
    // nothing here, and the credential is for this service only.
    OkHttpClient client = HttpsClients.client(trust, timeout, false);
    Call call = client.newCall(new Request.Builder().url(target.url()).header("User-Agent", userAgent)
        .header("Authorization", credential.headerValue()).header("Accept", "application/json").delete().build());
    call.timeout().timeout(timeout.toMillis(), TimeUnit.MILLISECONDS); // the whole call, TLS and answer included
    try (Response r = call.execute()) {
      String reason = Credentials.reason(r.body().byteStream().readNBytes(MAX_ANSWER));
      return outcome(r.code(), reason, HttpsSource.retryAfter(r.header("Retry-After"), clock), target);
    } catch (IOException e) {
      return new Outcome.Failed(HttpsSource.transportFailure(e, target.url()).getMessage());
    } finally {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
  }

  /** {@code reason} is ": the service's reason" or "". */
  static Outcome outcome(int status, String reason, Optional<Duration> retryAfter, Target target) {
    String where = target.where();
    if (status == 204) {
      return new Outcome.Deregistered();
    }
    if (status == 401 || status == 403) {
      return new Outcome.Refused(status, reason);
    }
    if (status == 404 || status == 405 || status == 501) {
      return new Outcome.Unsupported(status);
    }
    if (status == 429 || status >= 500) {
      return new Outcome.Failed(where + " cannot deregister now (HTTP " + status
          + retryAfter.map(d -> ", retry after " + d.toSeconds() + "s").orElse("") + ")" + reason);
    }
    if (status >= 300 && status < 400) {
      return new Outcome.Failed(where + " answered HTTP " + status + " (a redirect, not followed: give "
          + "bundle.source the onboarding service's own URL)");
    }
    return new Outcome.Failed(where + " answered HTTP " + status + ", not the 204 of protocol v1" + reason);
  }
}
