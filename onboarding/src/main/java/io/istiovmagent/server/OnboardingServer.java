package io.istiovmagent.server;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.istiovmagent.server.metrics.MetricsServer;
import io.istiovmagent.server.metrics.ServiceMetrics;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLParameters;

/**
 * The reference onboarding endpoint of docs/protocol.md over HTTPS: bundles from a directory of istioctl output,
 * health reports in, the VM list out, every request authenticated by a join token. Built with {@link #builder()},
 * then {@link #start()} and {@link #stop()}.
 */
public final class OnboardingServer {
  /** The builder's values, copied: changing the builder later changes nothing here. */
  private record Settings(InetSocketAddress listen, ServerTls tls, Optional<Path> reports,
      Duration maxAge, Clock clock, Log log, int threads, int queueCapacity, Duration stopGrace,
      Optional<InetSocketAddress> metricsListen) {}

  /** The metrics listener's address could not be bound (the endpoint's own address was). */
  public static final class MetricsListenException extends IOException {
    private static final long serialVersionUID = 1L;

    MetricsListenException(String message, IOException cause) {
      super(message, cause);
    }
  }

  private final Settings config;
  private final JoinTokens tokens;
  private final Optional<Authenticator> credentials;
  private final Optional<Enroller> enroller;
  private final Optional<HealthSink> healthSink;
  private final Optional<Fleet> fleet;
  private final BundleProvider bundles;
  private final VmRegistry registry;
  private final ServiceMetrics metrics;
  private final InFlight inFlight = new InFlight();
  private HttpsServer http; // guarded by this
  private boolean started; // guarded by this
  private RequestExecutor executor; // guarded by this
  private MetricsServer metricsServer; // guarded by this
  /** Not guarded: port() and url() must answer while stop() holds the lock. */
  private volatile int boundPort = -1;

  private OnboardingServer(Builder b, JoinTokens tokens, BundleProvider bundles) {
    this.config = new Settings(b.listen, b.tls, b.reports, b.maxAge, b.clock, b.log, b.threads,
        b.queueCapacity, b.stopGrace, b.metricsListen);
    this.tokens = tokens;
    this.credentials = b.credentials;
    this.enroller = b.enroller;
    this.healthSink = b.healthSink;
    this.fleet = b.fleet;
    this.bundles = bundles;
    this.registry = new VmRegistry(b.maxVms, b.historyPerVm);
    this.metrics = b.metrics;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Binds and starts serving; {@link #port()} and {@link #url()} tell where. Once per server. */
  public synchronized void start() throws IOException {
    if (started) {
      throw new IllegalStateException("a server starts once; build a new one to serve again");
    }
    started = true;
    executor = new RequestExecutor(config.threads(), config.queueCapacity());
    HttpsServer s = HttpsServer.create(config.listen(), 0);
    s.setHttpsConfigurator(new HttpsConfigurator(config.tls().sslContext()) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters p = getSSLContext().getDefaultSSLParameters();
        p.setProtocols(ServerTls.PROTOCOLS.stream()
            .filter(Arrays.asList(getSSLContext().getSupportedSSLParameters().getProtocols())::contains)
            .toArray(String[]::new));
        p.setNeedClientAuth(false);
        params.setSSLParameters(p);
      }
    });
    Optional<ReportLog> reports = config.reports().map(f -> new ReportLog(f, config.log()));
    HealthEndpoint health = new HealthEndpoint(bundles, registry, reports, healthSink, fleet, config.clock(),
        config.log());
    BundleEndpoint bundleEndpoint = new BundleEndpoint(bundles, config.maxAge().toSeconds());
    DeregisterEndpoint deregister = new DeregisterEndpoint(registry, healthSink, config.log());
    s.createContext("/", new Router(tokens, credentials, new EnrolEndpoint(enroller, metrics), bundleEndpoint,
        health, deregister, FleetPage.load(), inFlight, metrics, config.log()));
    s.setExecutor(executor);
    // With a fleet, the VMs as the cluster holds them (the same on every replica); else the reports taken here.
    metrics.vmStates(fleet.isPresent() ? fleet.get()::countByState : () -> registry.states(config.clock().instant()));
    if (config.metricsListen().isPresent()) {
      InetSocketAddress at = config.metricsListen().get();
      try {
        metricsServer = MetricsServer.start(at, metrics::scrape);
      } catch (IOException e) {
        s.stop(0); // bound, never started: give its port back
        try {
          executor.shutdown(Duration.ZERO);
        } catch (InterruptedException stopped) {
          Thread.currentThread().interrupt();
        }
        throw new MetricsListenException("cannot listen for metrics on " + hostPort(at, at.getPort())
            + ": " + e.getMessage(), e);
      }
    }
    s.start();
    http = s;
    boundPort = s.getAddress().getPort();
    config.log().notice("onboarding endpoint listening on " + url() + " (" + bundles.describe() + ", "
        + tokens.size() + " join tokens in the token file" + (enroller.isPresent() ? ", enrolment on" : "")
        + config.reports().map(f -> ", reports to " + f).orElse("") + ")");
    if (metricsServer != null) {
      InetSocketAddress at = config.metricsListen().get();
      config.log().notice("metrics at http://" + hostPort(at, metricsServer.port()) + MetricsServer.PATH);
    }
  }

  /**
   * Refuses new requests (503), lets running ones finish for at most the stop grace, then closes every connection
   * and the pools. Safe to call more than once.
   */
  public synchronized void stop() {
    if (http == null) {
      return;
    }
    boolean drained = false;
    try {
      drained = inFlight.closeAndAwait(config.stopGrace());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Our own wait above: HttpServer.stop(n) on Java 17 waits all n seconds even when nothing is running.
    http.stop(0);
    if (metricsServer != null) {
      metricsServer.stop(); // last, so that a final scrape may still see the drain
      metricsServer = null;
    }
    try {
      executor.shutdown(Duration.ofSeconds(1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    http = null;
    bundles.close();
    config.log().notice("onboarding endpoint stopped" + (drained ? "" : " (requests still running were cut off)"));
  }

  /** The bound port (the real one when the builder asked for port 0); from {@link #start()} on. */
  public int port() {
    int p = boundPort;
    if (p < 0) {
      throw new IllegalStateException("not started");
    }
    return p;
  }

  /** {@code https://HOST:PORT} of the bound address, e.g. https://127.0.0.1:8443; paths start with /v1/. */
  public String url() {
    InetAddress a = config.listen().getAddress();
    String host = config.listen().getHostString();
    if (a instanceof Inet6Address && host.contains(":")) {
      host = "[" + host + "]";
    }
    return "https://" + host + ":" + port();
  }

  /** HOST:PORT of an address as it was bound: its IP (brackets for IPv6), not a name it may resolve to. */
  private static String hostPort(InetSocketAddress a, int port) {
    String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** The metrics listener's bound port, when the builder asked for one; from {@link #start()} on. */
  public synchronized int metricsPort() {
    if (metricsServer == null) {
      throw new IllegalStateException("no metrics listener: not started, or none asked for");
    }
    return metricsServer.port();
  }

  public ServerTls tls() {
    return config.tls();
  }

  /** Requests being handled right now, for tests in this package. */
  int requestsInFlight() {
    return inFlight.count();
  }

  /** The VM registry, for tests in this package. */
  VmRegistry registry() {
    return registry;
  }

  /** The bundle directory's store, for tests in this package that serve one. */
  BundleStore store() {
    return (BundleStore) bundles;
  }

  /** Everything the endpoint needs; {@link #build()} checks it and reads the token file once. */
  public static final class Builder {
    private InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), 8443);
    private ServerTls tls;
    private Path bundles;
    private BundleProvider provider;
    private Path tokensFile;
    private Optional<Authenticator> credentials = Optional.empty();
    private Optional<Enroller> enroller = Optional.empty();
    private Optional<HealthSink> healthSink = Optional.empty();
    private Optional<Fleet> fleet = Optional.empty();
    private Optional<Path> reports = Optional.empty();
    private Duration maxAge = Duration.ofSeconds(300);
    private Clock clock = Clock.systemUTC();
    private Log log = new Log(System.out, false);
    // 32, not a core count: the JDK's HTTPS server runs a new connection's TLS handshake on the worker thread, which
    // mostly waits for the client's half of it; with a new connection for nearly every request (a heartbeat a
    // minute per VM), 8 workers and clients 50 ms away capped the endpoint at ~160 handshakes a second while its CPU
    // was half idle, and the overflow (503s, resets) fed a retry storm (docs/performance.md, P5).
    private int threads = 32;
    private int queueCapacity = 64;
    private int maxVms = 100_000;
    private int historyPerVm = 50;
    private Duration stopGrace = Duration.ofSeconds(5);
    private ServiceMetrics metrics = new ServiceMetrics();
    private Optional<InetSocketAddress> metricsListen = Optional.empty();

    private Builder() {}

    /** Address and port to bind; port 0 picks a free one. Default 127.0.0.1:8443 (loopback). */
    public Builder listen(InetSocketAddress address) {
      this.listen = Objects.requireNonNull(address, "address == null");
      return this;
    }

    /** Required: {@link ServerTls#fromPem} or {@link ServerTls#selfSigned}. */
    public Builder tls(ServerTls tls) {
      this.tls = Objects.requireNonNull(tls, "tls == null");
      return this;
    }

    /** The directory holding {@code <namespace>/<group>/} with istioctl's output in each; or {@link #bundles}. */
    public Builder bundles(Path dir) {
      this.bundles = Objects.requireNonNull(dir, "dir == null");
      this.provider = null;
      return this;
    }

    /** Bundles from elsewhere, e.g. the cluster; or a directory, {@link #bundles(Path)}. One of them is required. */
    public Builder bundles(BundleProvider provider) {
      this.provider = Objects.requireNonNull(provider, "provider == null");
      this.bundles = null;
      return this;
    }

    /** Required: the YAML token file; re-read whenever it changes. */
    public Builder tokens(Path file) {
      this.tokensFile = Objects.requireNonNull(file, "file == null");
      return this;
    }

    /**
     * Credentials kept elsewhere (the VMs' own, in the cluster), accepted beside the token file's; with them the
     * token file is optional.
     */
    public Builder credentials(Authenticator authenticator) {
      this.credentials = Optional.of(Objects.requireNonNull(authenticator, "authenticator == null"));
      return this;
    }

    /** Enrolment: POST /v1/enroll/{namespace}/{group} trades a join token for a VM's own credential. */
    public Builder enroller(Enroller enroller) {
      this.enroller = Optional.of(Objects.requireNonNull(enroller, "enroller == null"));
      return this;
    }

    /** Accepted reports also go to {@code sink} (the cluster: WorkloadEntries and their health). */
    public Builder healthSink(HealthSink sink) {
      this.healthSink = Optional.of(Objects.requireNonNull(sink, "sink == null"));
      return this;
    }

    /** GET /v1/vms lists {@code fleet} (the cluster's view, the same on every replica) instead of the reports taken. */
    public Builder fleet(Fleet fleet) {
      this.fleet = Optional.of(Objects.requireNonNull(fleet, "fleet == null"));
      return this;
    }

    /** Optional: append every accepted health report as one JSON line to this file. */
    public Builder reports(Path file) {
      this.reports = Optional.of(Objects.requireNonNull(file, "file == null"));
      return this;
    }

    /** The Cache-Control max-age on bundles, a refresh hint to agents. Default 300 s. */
    public Builder maxAge(Duration maxAge) {
      this.maxAge = Objects.requireNonNull(maxAge, "maxAge == null");
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock == null");
      return this;
    }

    public Builder log(Log log) {
      this.log = Objects.requireNonNull(log, "log == null");
      return this;
    }

    /** Worker threads (default 32) and requests that may wait for one (default 64); beyond that, 503. */
    public Builder concurrency(int threads, int queueCapacity) {
      this.threads = threads;
      this.queueCapacity = queueCapacity;
      return this;
    }

    /** VMs remembered (default 100 000) and past reports kept per VM (default 50). */
    public Builder limits(int maxVms, int historyPerVm) {
      this.maxVms = maxVms;
      this.historyPerVm = historyPerVm;
      return this;
    }

    /** How long {@link #stop()} lets running requests finish. Default 5 s. */
    public Builder stopGrace(Duration grace) {
      this.stopGrace = Objects.requireNonNull(grace, "grace == null");
      return this;
    }

    /** Where the counts go: share one with the Kubernetes mode's client. Default: the server's own. */
    public Builder metrics(ServiceMetrics metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics == null");
      return this;
    }

    /** Serve GET /metrics over plain HTTP at this address too (port 0: any free one). Default: no listener. */
    public Builder metricsListen(InetSocketAddress address) {
      this.metricsListen = Optional.of(Objects.requireNonNull(address, "address == null"));
      return this;
    }

    public OnboardingServer build() throws ServerConfigException {
      if (tls == null || bundles == null && provider == null || tokensFile == null && credentials.isEmpty()) {
        throw new IllegalStateException("tls, bundles and tokens (or credentials) are required");
      }
      if (threads < 1 || queueCapacity < 0 || maxVms < 1 || historyPerVm < 1 || maxAge.isNegative()
          || stopGrace.isNegative()) {
        throw new IllegalArgumentException("threads, maxVms and historyPerVm must be at least 1; queueCapacity, "
            + "maxAge and stopGrace at least 0");
      }
      if (provider == null && !Files.isDirectory(bundles)) {
        throw new ServerConfigException("bundle directory " + bundles + " does not exist or is not a directory; "
            + "create it and put istioctl's output in " + bundles + "/<namespace>/<workload group>/");
      }
      Optional<Path> reportsDir = reports.map(f -> f.toAbsolutePath().getParent());
      if (reportsDir.isPresent() && !Files.isDirectory(reportsDir.get())) {
        throw new ServerConfigException("the directory of the reports file " + reports.get() + " does not exist; "
            + "create it first");
      }
      return new OnboardingServer(this, tokensFile != null ? JoinTokens.load(tokensFile, log) : JoinTokens.none(log),
          provider != null ? provider : new BundleStore(bundles, log));
    }
  }
}
