package io.istiovmagent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.Repo;
import io.istiovmagent.util.Durations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {
  @Test
  void missingFileMeansDefaults(@TempDir Path dir) throws Exception {
    assertEquals(AgentConfig.defaults(), ConfigLoader.load(dir.resolve("config.yaml")));
  }

  @Test
  void emptyFileMeansDefaults() throws Exception {
    assertEquals(AgentConfig.defaults(), ConfigLoader.parse("c.yaml", "# nothing yet\n"));
  }

  @Test
  void shippedExampleIsAllDefaultsAndEveryCommentedKeyIsValid() throws Exception {
    Path example = Repo.path("agent/config.yaml");
    assertEquals(AgentConfig.defaults(), ConfigLoader.load(example));
    // Uncommenting every example line must give a valid configuration: the example cannot rot.
    String uncommented = java.nio.file.Files.readAllLines(example).stream()
        .map(l -> l.matches("  # [a-zA-Z]+: .*") ? "  " + l.substring(4) : l)
        .collect(java.util.stream.Collectors.joining("\n"));
    AgentConfig c = ConfigLoader.parse("example", uncommented);
    assertEquals(Optional.of("https://onboarding.example/v1/bundle/vm-namespace/hello-vm"), c.bundle().source());
    assertEquals(Duration.ofMinutes(10), c.bundle().refreshInterval());
  }

  @Test
  void readsEveryKey() throws Exception {
    AgentConfig c = ConfigLoader.parse("c.yaml", """
        bundle:
          source: https://plane.example/v1/bundle/ns/group
          caFile: /etc/istio-vm-agent/ca.pem
          tokenFile: /etc/istio-vm-agent/join-token
          refreshInterval: 5m
          timeout: 10s
          backoffCap: 2m
        hosts:
          allowedNames: [Gateway.Mesh.Example]
          gatewayHostname: EastWest.Mesh.Example
        sidecar:
          manage: false
          unit: istio-canary.service
          readinessUrl: http://127.0.0.1:15020/healthz/ready
        paths:
          stateDir: /var/lib/other
          runDir: /run/other
        """);
    assertEquals(Optional.of("https://plane.example/v1/bundle/ns/group"), c.bundle().source());
    assertEquals(Optional.of(Path.of("/etc/istio-vm-agent/ca.pem")), c.bundle().caFile());
    assertEquals(Optional.of(Path.of("/etc/istio-vm-agent/join-token")), c.bundle().tokenFile());
    assertEquals(Duration.ofMinutes(5), c.bundle().refreshInterval());
    assertEquals(Duration.ofSeconds(10), c.bundle().timeout());
    assertEquals(List.of("gateway.mesh.example"), c.hosts().allowedNames());
    assertEquals(Duration.ofMinutes(2), c.bundle().backoffCap());
    assertEquals(Optional.of("eastwest.mesh.example"), c.hosts().gatewayHostname());
    assertEquals(new AgentConfig.Sidecar(false, "istio-canary.service", "http://127.0.0.1:15020/healthz/ready"),
        c.sidecar());
    assertEquals("/var/lib/other", c.paths().stateDir());
    assertEquals("/run/other", c.paths().runDir());
  }

  @Test
  void readsTheMetricsSection() throws Exception {
    assertEquals(new AgentConfig.Metrics(true, Optional.empty(), Duration.ofSeconds(30)),
        ConfigLoader.parse("config.yaml", "bundle: {}\n").metrics());
    AgentConfig.Metrics m = ConfigLoader.parse("config.yaml",
        "metrics:\n  textfile: false\n  textfileDir: /srv/prom\n  interval: 2m\n").metrics();
    assertEquals(new AgentConfig.Metrics(false, Optional.of("/srv/prom"), Duration.ofMinutes(2)), m);
    assertEquals("/srv/prom", m.directory());
    assertEquals(AgentConfig.DEFAULT_TEXTFILE_DIR, AgentConfig.defaults().metrics().directory());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "unknown top-level key      | bundel: {}                              | unknown key 'bundel'",
      "unknown nested key         | 'bundle: {sorce: x}'                    | unknown key 'bundle.sorce'",
      "section not a mapping      | 'bundle: x'                             | 'bundle' must be a mapping",
      "bad duration               | 'bundle: {refreshInterval: soon}'       | 'bundle.refreshInterval': 'soon' is not a duration",
      "duration too short         | 'bundle: {refreshInterval: 1s}'         | the least allowed is 10s",
      "list where a value belongs | 'bundle: {source: [a, b]}'              | 'bundle.source' must be a single value",
      "value where a list belongs | 'hosts: {allowedNames: x}'              | 'hosts.allowedNames' must be a list",
      "localhost allowed          | 'hosts: {allowedNames: [localhost]}'    | may not allow localhost",
      "not a host name            | 'hosts: {allowedNames: [\"a b\"]}'      | is not a host name",
      "relative state dir         | 'paths: {stateDir: var/lib}'            | must be an absolute path",
      "readiness off the machine  | 'sidecar: {readinessUrl: \"http://10.0.0.1:15021/\"}' | must point at this machine",
      "loopback-looking name      | 'sidecar: {readinessUrl: \"http://127.0.0.1.evil.example/\"}' | must point at this machine",
      "manage not a boolean       | 'sidecar: {manage: yes please}'         | 'sidecar.manage' must be true or false",
      "relative textfile dir      | 'metrics: {textfileDir: prom}'          | 'metrics.textfileDir' must be an absolute path",
      "textfile dir the root      | 'metrics: {textfileDir: /}'             | 'metrics.textfileDir' may not be /",
      "metrics every second       | 'metrics: {interval: 1s}'               | the least allowed is 5s",
      "textfile not a boolean     | 'metrics: {textfile: off please}'       | 'metrics.textfile' must be true or false",
      "not a mapping              | '- a'                                   | must be a YAML mapping",
      "duplicate key              | 'bundle: {}\nbundle: {}'                | is not acceptable YAML",
      "unknown trust              | 'bundle: {trust: system}'               | 'bundle.trust' is 'system'; give",
      "trust of a list            | 'bundle: {trust: [caFile]}'             | 'bundle.trust' must be a single value",
      "trust not case-folded      | 'bundle: {trust: cafile, caFile: /c}'   | 'bundle.trust' is 'cafile'",
      "caFile alone, no caFile    | 'bundle: {trust: caFile}'               | no 'bundle.caFile' is set"})
  void refusesWithTheKeyAndReason(String name, String yaml, String expected) {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.parse("config.yaml", yaml.replace("\\n", "\n")));
    assertTrue(e.getMessage().startsWith("config.yaml: "), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "absent: system and caFile  | 'bundle: {caFile: /etc/ca.pem}'                       | SYSTEM_AND_CA_FILE",
      "absent, no caFile          | 'bundle: {}'                                          | SYSTEM_AND_CA_FILE",
      "system+caFile, no caFile   | 'bundle: {trust: system+caFile}'                      | SYSTEM_AND_CA_FILE",
      "system+caFile              | 'bundle: {trust: system+caFile, caFile: /etc/ca.pem}' | SYSTEM_AND_CA_FILE",
      "caFile alone               | 'bundle: {trust: caFile, caFile: /etc/ca.pem}'        | CA_FILE_ONLY"})
  void readsWhomToTrust(String name, String yaml, AgentConfig.Trust expected) throws Exception {
    AgentConfig.Trust t = ConfigLoader.parse("config.yaml", yaml).bundle().trust();
    assertEquals(expected, t);
    assertEquals(AgentConfig.Trust.of(t.key()), Optional.of(t), "the key written is the key read");
  }

  @Test
  void aYamlErrorSaysWhereButNeverQuotesTheFile() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.parse("config.yaml", "bundle:\n  source: x\n  secret-ish-value-4711 ] : [\n"));
    assertTrue(e.getMessage().contains("line 4, column 1"), e.getMessage());
    assertFalse(e.getMessage().contains("secret-ish-value-4711"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"30s,PT30S", "10m,PT10M", "1h,PT1H", "1h30m,PT1H30M", "250ms,PT0.25S", "2d,PT48H"})
  void parsesDurationsAsPeopleWriteThem(String text, Duration expected) {
    assertEquals(expected, Durations.parse(text));
  }

  @ParameterizedTest
  @CsvSource({"''", "10", "m", "-5s", "1.5h", "10 m", "5w"})
  void refusesMalformedDurations(String text) {
    assertThrows(IllegalArgumentException.class, () -> Durations.parse(text));
  }
}
