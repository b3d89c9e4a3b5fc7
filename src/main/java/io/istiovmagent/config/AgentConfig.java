package io.istiovmagent.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The agent's configuration: config.yaml with defaults filled in. Documented in docs/configuration.md. */
public record AgentConfig(Bundle bundle, Hosts hosts, Paths paths) {

  /** Where the bundle comes from and how it is fetched. */
  public record Bundle(Optional<String> source, Optional<Path> caFile, Optional<Path> tokenFile,
      Duration refreshInterval, Duration timeout) {}

  /** Policy for the bundle's hosts file. */
  public record Hosts(List<String> allowedNames) {}

  /** Where the agent keeps its own files; absolute system paths, resolved under --root. */
  public record Paths(String stateDir, String runDir) {}

  public static final Duration DEFAULT_REFRESH = Duration.ofMinutes(10);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  public static final String DEFAULT_STATE_DIR = "/var/lib/istio-vm-agent";
  public static final String DEFAULT_RUN_DIR = "/run/istio-vm-agent";

  public static AgentConfig defaults() {
    return new AgentConfig(
        new Bundle(Optional.empty(), Optional.empty(), Optional.empty(), DEFAULT_REFRESH, DEFAULT_TIMEOUT),
        new Hosts(List.of()), new Paths(DEFAULT_STATE_DIR, DEFAULT_RUN_DIR));
  }
}
