package io.istiovmagent.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.istiovmagent.protocol.ErrorBody;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.protocol.ReportAnswer;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.source.HttpsSource;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509TrustManager;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * One POST of a health report and what its answer means, as a typed outcome: the reporter's loop decides what to do
 * with it, this class only talks HTTP.
 */
final class ReportExchange {
  static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
  private static final MediaType JSON_TYPE = MediaType.get("application/json");

  /** What one report's answer means. */
  sealed interface Outcome {}

  /**
   * Any 2xx: a plain sink answers 202 Accepted or 204 No Content and means "stored" as much as a 200 does. The hint
   * is NONE when the body had none; {@code unreadable} says why the body could not be read, if it could not.
   */
  record Delivered(ReportAnswer.Hint hint, Optional<String> unreadable) implements Outcome {
    /** Hands the hint to the daemon; a hint that cannot be read or handled is only logged. */
    void handTo(Reporter.Hints hints, String revision, Instant sentAt, Log log) {
      if (unreadable.isPresent()) {
        log.debug("report answer without readable hints: " + unreadable.get());
        return;
      }
      try {
        if (hint == ReportAnswer.Hint.FETCH_NOW) {
          hints.fetchBundleNow();
        } else if (hint == ReportAnswer.Hint.CONFIRMED && revision != null) {
          hints.bundleConfirmed(revision, sentAt);
        }
      } catch (RuntimeException e) {
        log.debug("report answer without readable hints: " + e.getMessage());
      }
    }
  }

  /**
   * Not delivered: why (as the log and the status say it), of which class (counted for the metrics), and the
   * answer's Retry-After (429, 5xx), if any.
   */
  record Failed(String why, FailureClass kind, Optional<Duration> retryAfter) implements Outcome {}

  private final HttpUrl url;
  private final OkHttpClient client;
  private final Optional<BearerToken> credential;
  private final String userAgent;
  private final Clock clock;

  ReportExchange(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration timeout,
      String userAgent, Clock clock, EventListener.Factory events) {
    this.url = url;
    this.credential = credential;
    this.userAgent = userAgent;
    this.clock = clock;
    this.client = HttpsClients.client(trust, timeout, false, events);
  }

  /** The request for a report, built before the time it is sent at is taken. */
  Request request(HealthReport report) {
    Request.Builder rb = new Request.Builder().url(url).header("User-Agent", userAgent);
    credential.map(ReportExchange::current).ifPresent(c -> {
      rb.header("Authorization", c.headerValue());
      rb.tag(BearerToken.class, c);
    });
    try {
      rb.post(RequestBody.create(JSON.writeValueAsBytes(report), JSON_TYPE));
    } catch (IOException e) {
      throw new IllegalStateException("a report is plain data and always serialises", e);
    }
    return rb.build();
  }

  /** The VM's credential once it has one (the join token until then); the token as given if it cannot be read. */
  private static BearerToken current(BearerToken c) {
    try {
      return c.current();
    } catch (SourceConfigException e) {
      return c;
    }
  }

  /** Sends the request and reads its answer; blocks for at most the client's timeouts, or until {@link #cancel}. */
  Outcome send(Request request) {
    try (Response r = client.newCall(request).execute()) {
      if (r.isSuccessful()) {
        return hasBody(r) ? delivered(r) : new Delivered(ReportAnswer.Hint.NONE, Optional.empty());
      }
      Optional<Duration> retryAfter = r.code() == 429 || r.code() >= 500
          ? HttpsSource.retryAfter(r.header("Retry-After"), clock) : Optional.empty();
      String why = switch (r.code()) {
        case 401, 403 -> "credential rejected (HTTP " + r.code() + ") by " + url.host()
            + ": check bundle.tokenFile" + Optional.ofNullable(request.tag(BearerToken.class))
                .map(BearerToken::rejected).orElse("");
        case 400 -> "report refused (HTTP 400): " + errorOf(r);
        default -> "report endpoint answered HTTP " + r.code();
      };
      return new Failed(why, kindOf(r.code()), retryAfter);
    } catch (IOException e) {
      // A refused handshake (untrusted CA, wrong name) is a trust problem, as for the bundle fetch.
      return new Failed("cannot reach the report endpoint " + url.host() + ":" + url.port() + " (" + e.getMessage()
          + ")", e instanceof SSLException ? FailureClass.MISCONFIGURED : FailureClass.TRANSIENT, Optional.empty());
    }
  }

  /** The class of a refusal, as the bundle fetch classes its statuses; a 400 means the two ends disagree. */
  static FailureClass kindOf(int code) {
    return switch (code) {
      case 401, 403 -> FailureClass.CREDENTIAL_REJECTED;
      case 404 -> FailureClass.NOT_FOUND;
      case 429 -> FailureClass.TRANSIENT;
      default -> code >= 500 ? FailureClass.TRANSIENT : FailureClass.MISCONFIGURED;
    };
  }

  /** Cancels the call in flight, if any, so that a reporter told to end does not wait for its timeout. */
  void cancel() {
    client.dispatcher().cancelAll();
  }

  /** The answer's hint, read as the protocol says (ReportAnswer.hintIn); an unreadable body hints nothing. */
  private static Delivered delivered(Response r) {
    try {
      return new Delivered(ReportAnswer.hintIn(JSON.readTree(r.body().byteStream())), Optional.empty());
    } catch (IOException | RuntimeException e) {
      return new Delivered(ReportAnswer.Hint.NONE, Optional.of(String.valueOf(e.getMessage())));
    }
  }

  /** A 204 or 205 never has one; any other answer may (a 202 from a plain sink has any body, or none). */
  private static boolean hasBody(Response r) {
    return r.code() != 204 && r.code() != 205 && r.body().contentLength() != 0;
  }

  private static String errorOf(Response r) {
    try {
      String body = r.body().string();
      return ErrorBody.reasonIn(JSON.readTree(body.length() > 500 ? body.substring(0, 500) : body))
          .orElse("no reason given");
    } catch (IOException | RuntimeException e) {
      return "no reason given";
    }
  }
}
