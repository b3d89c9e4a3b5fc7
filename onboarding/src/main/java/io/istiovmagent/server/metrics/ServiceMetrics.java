package io.istiovmagent.server.metrics;

import io.istiovmagent.util.PrometheusText;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The onboarding service's metrics (docs/kubernetes.md, "Metrics"), shared by the endpoint, the Kubernetes client
 * and the token minter, and written out at each scrape. Every label value is a pattern, a code or an outcome from a
 * closed set: never a path, a namespace, a machine id or anything secret.
 */
public final class ServiceMetrics {
  static final String PREFIX = "istio_vm_onboarding_";
  /** Prometheus' default buckets, in seconds: a served bundle takes milliseconds, one minted in the cluster tens. */
  static final double[] LATENCY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  /** The outcomes of a token mint. */
  public static final String MINTED = "minted";
  public static final String NO_SERVICE_ACCOUNT = "no_service_account";
  public static final String MINT_FAILED = "failed";
  /** The outcomes of an enrolment, by the status it was answered with. */
  static final Map<Integer, String> ENROLMENT_OUTCOMES = Map.of(201, "enrolled", 400, "bad_request",
      401, "unauthorized", 403, "forbidden", 409, "conflict", 503, "unavailable");
  static final String ENROLMENT_OTHER = "other";

  private final Counter requests = new Counter(PREFIX + "requests_total",
      "Requests answered, by route pattern and status code.", "route", "code");
  private final Histogram latency = new Histogram(PREFIX + "request_duration_seconds",
      "Time from a request's hand-over to a worker (its wait, a new connection's TLS handshake) to its answer.",
      LATENCY_BUCKETS, "route");
  private final Counter apiCalls = new Counter(PREFIX + "kubernetes_requests_total",
      "Requests to the Kubernetes API server, by verb, resource and status code (error: no answer); a watch "
          + "counts once, when it starts.", "verb", "resource", "code");
  private final Counter enrolments = new Counter(PREFIX + "enrolments_total",
      "Enrolments (a join token traded for a VM's credential), by outcome.", "outcome");
  private final Counter mints = new Counter(PREFIX + "token_mints_total",
      "Tokens minted for VMs (TokenRequests), by outcome.", "outcome");
  private volatile Supplier<Map<String, Long>> vms = Map::of;

  public ServiceMetrics() {
    ENROLMENT_OUTCOMES.values().forEach(enrolments::init);
    enrolments.init(ENROLMENT_OTHER);
    List.of(MINTED, NO_SERVICE_ACCOUNT, MINT_FAILED).forEach(mints::init);
  }

  /** A request answered with {@code status} on the route of {@code routePattern}, {@code nanos} after hand-over. */
  public void request(String routePattern, int status, long nanos) {
    requests.inc(routePattern, Integer.toString(status));
    latency.observe(nanos / 1e9, routePattern);
  }

  /** One request to the Kubernetes API; {@code code} the HTTP status, or "error" when none came. */
  public void apiCall(String verb, String resource, String code) {
    apiCalls.inc(verb, resource, code);
  }

  /** An enrolment answered with {@code status}. */
  public void enrolment(int status) {
    enrolments.inc(ENROLMENT_OUTCOMES.getOrDefault(status, ENROLMENT_OTHER));
  }

  /** A token mint: {@link #MINTED}, {@link #NO_SERVICE_ACCOUNT} or {@link #MINT_FAILED}. */
  public void tokenMint(String outcome) {
    mints.inc(outcome);
  }

  /** Where the number of VMs by state comes from, asked at each scrape. */
  public void vmStates(Supplier<Map<String, Long>> source) {
    this.vms = Objects.requireNonNull(source, "source == null");
  }

  /** The exposition of every metric, as a scrape gets it. */
  public String scrape() {
    PrometheusText out = new PrometheusText();
    requests.writeTo(out);
    latency.writeTo(out);
    String name = PREFIX + "vms";
    out.family(name, "VMs by state, as this replica sees the fleet (in the Kubernetes mode every replica sees all "
        + "of it: aggregate with max, not sum).", "gauge");
    Map<String, Long> states;
    try {
      states = vms.get();
    } catch (RuntimeException e) {
      states = Map.of(); // a fleet that cannot be read now: no series rather than no scrape
    }
    states.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> out.sample(name, List.of("state"), List.of(e.getKey()), e.getValue()));
    apiCalls.writeTo(out);
    enrolments.writeTo(out);
    mints.writeTo(out);
    return out.text();
  }
}
