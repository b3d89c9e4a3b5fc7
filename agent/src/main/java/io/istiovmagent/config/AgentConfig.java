package io.istiovmagent.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The agent's configuration: config.yaml with defaults filled in. Documented in docs/configuration.md. */
public record AgentConfig(Bundle bundle, Hosts hosts, Sidecar sidecar, Report report, Paths paths,
    Metrics metrics) {

  /** Where the bundle comes from and how it is fetched. */
  public record Bundle(Optional<String> source, Optional<Path> caFile, Optional<Path> tokenFile,
      Duration refreshInterval, Duration timeout, Duration backoffCap, Trust trust) {}

  /**
   * Which CAs HTTPS trusts (bundle.trust), for the bundle source, the reporter, enrolment and deregistration: the
   * system's trust store plus caFile, or caFile alone (curl's --cacert: a pinned private CA).
   */
  public enum Trust {
    SYSTEM_AND_CA_FILE("system+caFile"),
    CA_FILE_ONLY("caFile");

    private final String key;

    Trust(String key) {
      this.key = key;
    }

    /** The value as written in config.yaml. */
    public String key() {
      return key;
    }

    public static Optional<Trust> of(String key) {
      for (Trust t : values()) {
        if (t.key.equals(key)) {
          return Optional.of(t);
        }
      }
      return Optional.empty();
    }
  }

  /**
   * Policy for the bundle's hosts file. gatewayHostname: when the bundle's hosts file is empty (a DNS-only
   * east-west gateway), resolve this name and map istiod's names to its addresses.
   */
  public record Hosts(List<String> allowedNames, Optional<String> gatewayHostname) {}

  /** Whether and how the agent supervises istio.service. */
  public record Sidecar(boolean manage, String unit, String readinessUrl) {}

  /** Health reports to the control plane (docs/protocol.md); no url, no reporting. */
  public record Report(Optional<String> url, Duration interval) {}

  /**
   * The Prometheus textfile (docs/metrics.md). {@code textfileDir} empty: node-exporter's directory
   * ({@link #DEFAULT_TEXTFILE_DIR}), written only when it exists; given: that directory, whose absence is reported.
   * {@code interval}: the file is rewritten at most this often.
   */
  public record Metrics(boolean textfile, Optional<String> textfileDir, Duration interval) {
    /** The directory to write into: an absolute system path, resolved under --root. */
    public String directory() {
      return textfileDir.orElse(DEFAULT_TEXTFILE_DIR);
    }
  }

  /** Where the agent keeps its own files; absolute system paths, resolved under --root. */
  public record Paths(String stateDir, String runDir) {}

  public static final Duration DEFAULT_REFRESH = Duration.ofMinutes(10);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_BACKOFF_CAP = Duration.ofMinutes(5);
  public static final String DEFAULT_SIDECAR_UNIT = "istio.service";
  public static final String DEFAULT_READINESS_URL = "http://127.0.0.1:15021/healthz/ready";
  public static final Duration DEFAULT_REPORT_INTERVAL = Duration.ofSeconds(60);
  public static final String DEFAULT_STATE_DIR = "/var/lib/istio-vm-agent";
  public static final String DEFAULT_RUN_DIR = "/run/istio-vm-agent";
  /** Debian's prometheus-node-exporter reads *.prom files here (its textfile collector's default). */
  public static final String DEFAULT_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
  public static final Duration DEFAULT_METRICS_INTERVAL = Duration.ofSeconds(30);

  public static AgentConfig defaults() {
    return new AgentConfig(
        new Bundle(Optional.empty(), Optional.empty(), Optional.empty(), DEFAULT_REFRESH, DEFAULT_TIMEOUT,
            DEFAULT_BACKOFF_CAP, Trust.SYSTEM_AND_CA_FILE),
        new Hosts(List.of(), Optional.empty()),
        new Sidecar(true, DEFAULT_SIDECAR_UNIT, DEFAULT_READINESS_URL),
        new Report(Optional.empty(), DEFAULT_REPORT_INTERVAL),
        new Paths(DEFAULT_STATE_DIR, DEFAULT_RUN_DIR),
        new Metrics(true, Optional.empty(), DEFAULT_METRICS_INTERVAL));
  }
}
