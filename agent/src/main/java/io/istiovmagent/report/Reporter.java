package io.istiovmagent.report;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import javax.net.ssl.X509TrustManager;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.Request;

/**
 * Sends health reports to the control plane from one background thread, so the daemon's loop never waits on the
 * network. Health is state: only the latest status is kept; a change goes out at once, otherwise a jittered
 * heartbeat; after an outage one report with the current state goes first, carrying the transitions it missed.
 */
public final class Reporter {
  /** The longest the loop sleeps at a time, so that a clock stepped back delays a heartbeat by no more than this. */
  static final Duration MAX_WAIT = Duration.ofMinutes(1);
  /**
   * How long close() waits for the thread to end. It ends within milliseconds (its call is canceled, its wait
   * interrupted); the bound only keeps a reporter stuck in a hint callback from holding up the daemon's loop.
   */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

  /**
   * What the reporter tells the daemon and `status`; {@code failures}: the reports not delivered since it started,
   * by class (every class present, from 0), for the metrics.
   */
  public record State(String url, Instant lastDeliveredAt, long delivered, String lastError,
      Map<FailureClass, Long> failures) {
    public State {
      failures = Collections.unmodifiableMap(new EnumMap<>(failures));
    }

    static Map<FailureClass, Long> none() {
      Map<FailureClass, Long> m = new EnumMap<>(FailureClass.class);
      for (FailureClass c : FailureClass.values()) {
        m.put(c, 0L);
      }
      return m;
    }

    State failedOnce(FailureClass kind, String why) {
      Map<FailureClass, Long> m = new EnumMap<>(failures);
      m.merge(kind, 1L, Long::sum);
      return new State(url, lastDeliveredAt, delivered, why, m);
    }
  }

  /** Called with hints from the endpoint's answer, on the reporter's thread. */
  public interface Hints {
    /** The answer said {@code "fetchBundleNow": true}. */
    void fetchBundleNow();

    /**
     * The answer said {@code "fetchBundleNow": false} explicitly: the bundle revision the report named
     * ({@code revision}) is the group's current one, as of some moment after {@code sentAt}, when the report went
     * out. An answer without the hint calls neither method.
     */
    default void bundleConfirmed(String revision, Instant sentAt) {}
  }

  private final HttpUrl url;
  private final ReportExchange exchange;
  private final Duration interval;
  private final Backoff backoff;
  private final RandomGenerator random;
  /** Who this VM is, read on the reporter's thread at the first report: host info may ask DNS for the hostname. */
  private final Supplier<HealthReport.Host> hostSource;
  private HealthReport.Host host;
  private final Clock clock;
  private final Log log;
  private final Hints hints;
  private final Thread thread;

  // Guarded by this.
  private AgentStatus latest;
  /** What {@link #latest} is about: the reporter's thread is woken only when this changes. */
  private ReportPolicy.Key latestKey;
  private boolean stopping;
  /** With {@link #stopping}: when the last report's time is up. */
  private Instant stopBy;
  private boolean closed;
  private State state;
  /** How often the reporter's loop has looked at the latest status: for tests (it must not poll). */
  private long looks;
  // Reporter thread only.
  private final MissedTransitions transitions = new MissedTransitions();
  /** The last failed answer's Retry-After (429, 5xx), if it had one. */
  private Optional<Duration> retryAfter = Optional.empty();
  private ReportPolicy.Key deliveredKey;
  private long sequence;
  private int failures;
  /** Attempts at the last (STOPPING) report so far. */
  private int lastAttempts;

  public Reporter(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration interval,
      Duration timeout, Backoff backoff, RandomGenerator random, HealthReport.Host host, Clock clock, Log log,
      String userAgent, Hints hints) {
    this(url, trust, credential, interval, timeout, backoff, random, () -> host, clock, log, userAgent, hints);
  }

  /** As above, with host info read when the first report is built (off the caller's thread). */
  public Reporter(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration interval,
      Duration timeout, Backoff backoff, RandomGenerator random, Supplier<HealthReport.Host> host, Clock clock,
      Log log, String userAgent, Hints hints) {
    this(url, trust, credential, interval, timeout, backoff, random, host, clock, log, userAgent, hints,
        HttpsClients.NO_EVENTS);
  }

  /**
   * As above, with {@code events} observing each report's HTTP call (see HttpsClients); the fleet benchmark reaches
   * it through a test-scope bridge in this package.
   */
  Reporter(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration interval,
      Duration timeout, Backoff backoff, RandomGenerator random, HealthReport.Host host, Clock clock, Log log,
      String userAgent, Hints hints, EventListener.Factory events) {
    this(url, trust, credential, interval, timeout, backoff, random, () -> host, clock, log, userAgent, hints, events);
  }

  private Reporter(HttpUrl url, X509TrustManager trust, Optional<BearerToken> credential, Duration interval,
      Duration timeout, Backoff backoff, RandomGenerator random, Supplier<HealthReport.Host> host, Clock clock,
      Log log, String userAgent, Hints hints, EventListener.Factory events) {
    if (!url.isHttps()) {
      throw new IllegalArgumentException("report.url must be https://");
    }
    this.url = url;
    this.interval = interval;
    this.backoff = backoff;
    this.random = random;
    this.hostSource = host;
    this.clock = clock;
    this.log = log;
    this.hints = hints;
    this.exchange = new ReportExchange(url, trust, credential, timeout, userAgent, clock, events);
    this.state = new State(display(url), null, 0, null, State.none());
    this.thread = new Thread(this::loop, "health-reporter");
    this.thread.setDaemon(true);
  }

  /** The URL as the log and the status show it: no user info, query or fragment, which could hold a credential. */
  public static String display(HttpUrl url) {
    return url.newBuilder().username("").password("").query(null).fragment(null).build().toString();
  }

  public void start() {
    thread.start();
  }

  /**
   * The daemon's latest status; never blocks. The daemon offers one on every pass of its loop: the reporter's thread
   * is woken only when what a report is about changed, otherwise it sleeps until its heartbeat.
   */
  public synchronized void offer(AgentStatus status) {
    latest = status;
    ReportPolicy.Key key = ReportPolicy.Key.of(status);
    if (!key.equals(latestKey)) {
      latestKey = key;
      notifyAll();
    }
  }

  /** How often the loop has looked at the latest status so far. */
  synchronized long looks() {
    return looks;
  }

  public synchronized State state() {
    return state;
  }

  /**
   * Sends a last report with status STOPPING (best effort, at most {@code within}), then ends the thread. The
   * daemon calls it on SIGTERM.
   */
  public void stop(AgentStatus stoppingStatus, Duration within) throws InterruptedException {
    if (stoppingStatus == null) {
      close(); // nothing was ever reported: there is nobody to say goodbye to
      return;
    }
    synchronized (this) {
      latest = stoppingStatus;
      stopping = true;
      stopBy = clock.instant().plus(within);
      notifyAll();
    }
    thread.join(within.toMillis());
    if (thread.isAlive()) {
      thread.interrupt();
      exchange.cancel();
      thread.join(1000);
    }
  }

  /**
   * Ends the thread without a last report (a reload replacing this reporter), and waits for it to end (at most
   * {@link #CLOSE_WAIT}): a reporter replaced by another must not send, nor hand hints to the daemon, beside it.
   */
  public void close() {
    synchronized (this) {
      closed = true;
      notifyAll();
    }
    thread.interrupt();
    exchange.cancel();
    try {
      thread.join(CLOSE_WAIT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (thread.isAlive()) {
      log.warn("the health reporter to " + url.host() + " did not end within " + CLOSE_WAIT.toSeconds() + "s");
    }
  }

  private void loop() {
    Instant nextHeartbeat = Instant.MIN;
    Instant nextRetry = Instant.MIN;
    while (true) {
      AgentStatus s;
      boolean last;
      Instant lastBy;
      synchronized (this) {
        while (true) {
          if (closed) {
            return;
          }
          looks++;
          s = latest;
          last = stopping;
          lastBy = stopBy;
          Instant now = clock.instant();
          // The last report goes at once, and again after a failure, as any report does, while its time lasts.
          boolean due = s != null && (last ? lastAttempts == 0 || !now.isBefore(nextRetry)
              : failures == 0 ? ReportPolicy.changed(deliveredKey, ReportPolicy.Key.of(s))
                  || !now.isBefore(nextHeartbeat) : !now.isBefore(nextRetry));
          if (due) {
            break;
          }
          // Until the heartbeat or the retry is due, or offer() brings a change (or stop() the end): no polling.
          Instant until = failures == 0 ? nextHeartbeat : nextRetry;
          long waitMs = s == null || until.equals(Instant.MIN) ? 0
              : Math.max(1, Math.min(Duration.between(now, until).toMillis(), MAX_WAIT.toMillis()));
          try {
            wait(waitMs);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
      transitions.track(s, failures > 0);
      boolean ok = send(s);
      if (ok) {
        failures = 0;
        nextHeartbeat = clock.instant().plus(ReportPolicy.heartbeat(interval, random));
      } else {
        failures++;
        // An overloaded endpoint's Retry-After is a floor on the wait, as for the bundle fetch: a fleet that retried
        // within a second of a 503 kept an endpoint's burst going (docs/performance.md, P5). The last report's
        // retries count from its own first attempt: a long outage before it must not push them past its time.
        nextRetry = clock.instant().plus(backoff.delay(last ? ++lastAttempts : failures, FailureClass.TRANSIENT,
            retryAfter));
      }
      if (last && (ok || nextRetry.isAfter(lastBy))) {
        return;
      }
    }
  }

  private boolean send(AgentStatus s) {
    if (host == null) {
      host = hostSource.get();
    }
    HealthReport report = ReportBuilder.build(s, host, ++sequence, interval, transitions.list());
    Request request = exchange.request(report);
    Instant sentAt = clock.instant();
    retryAfter = Optional.empty();
    ReportExchange.Outcome outcome = exchange.send(request);
    if (outcome instanceof ReportExchange.Failed f) {
      retryAfter = f.retryAfter();
      return failed(f.why(), f.kind());
    }
    transitions.delivered();
    deliveredKey = ReportPolicy.Key.of(s);
    String previousError;
    synchronized (this) {
      previousError = state.lastError();
      state = new State(state.url(), clock.instant(), state.delivered() + 1, null, state.failures());
    }
    if (previousError != null) {
      log.info("health reports delivered again to " + url.host());
    }
    ((ReportExchange.Delivered) outcome).handTo(hints, s.bundle() == null ? null : s.bundle().revision(), sentAt,
        log);
    return true;
  }

  private boolean failed(String why, FailureClass kind) {
    sequence--; // the sequence counts delivered reports: the retry reuses the number
    boolean first;
    synchronized (this) {
      first = state.lastError() == null;
      state = state.failedOnce(kind, why);
    }
    if (first) {
      log.warn(why);
    }
    return false;
  }
}
