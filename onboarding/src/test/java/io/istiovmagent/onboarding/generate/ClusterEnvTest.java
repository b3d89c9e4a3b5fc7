package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClusterEnvTest {
  /** istioctl's shellescape: only {@code \ w @ % + = : , . / -} stay unquoted; the rest is single-quoted. */
  @ParameterizedTest(name = "[{0}] -> [{1}]")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "\"\"                 | ''",
      "10.10.10.10         | '10.10.10.10'",
      "*                   | '*'",
      "w                   | w",
      "www                 | www",
      "@%+=:,./-           | @%+=:,./-",
      "\\                  | \\",
      "a                   | 'a'",
      "vm-sa               | 'vm-sa'",
      "it's                | 'it'\"'\"'s'",
      "istiod-rev-1.istio-system.svc:15012 | 'istiod-rev-1.istio-system.svc:15012'",
      "\"{\"\"a\"\":1}\"     | '{\"a\":1}'",
      "ü                   | 'ü'",
  })
  void quotesAsIstioctlDoes(String value, String quoted) {
    assertEquals(quoted, ShellQuote.quote(value));
  }

  /** Go's sort.Strings on whole lines: '=' (0x3D) sorts after the digits and before '_' and the letters. */
  @Test
  void sortsWholeLinesByteByByte() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("A_B", "3");
    env.put("A", "2");
    env.put("A1", "1");
    env.put("ISTIO_SVC_IP", "10.10.10.10");
    env.put("ISTIO_INBOUND_PORTS", "*");
    env.put("ISTIO_META_WORKLOAD_NAME", "foo");
    env.put("ISTIO_METAJSON_LABELS", "{}");
    env.put("Z", "é");
    env.put("Y", "z");
    assertEquals("A1='1'\nA='2'\nA_B='3'\nISTIO_INBOUND_PORTS='*'\nISTIO_METAJSON_LABELS='{}'\n"
        + "ISTIO_META_WORKLOAD_NAME='foo'\nISTIO_SVC_IP='10.10.10.10'\nY='z'\nZ='é'\n",
        new String(ClusterEnv.render(env), StandardCharsets.UTF_8));
  }

  private static ClusterEnv.Inputs inputs(Map<String, Integer> ports, int statusPort, String revision,
      Optional<String> internalIp, Optional<String> externalIp) {
    return new ClusterEnv.Inputs("foo", "bar", "vm-sa", ports, statusPort, revision, "istio-system", internalIp,
        externalIp);
  }

  /** A whole file, from istioctl's rules: the mesh's proxyMetadata first, istioctl's own entries over it. */
  @Test
  void rendersAGroupsClusterEnv() {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("CANONICAL_SERVICE", "foo");
    metadata.put("ISTIO_META_NETWORK", "");
    metadata.put("SERVICE_ACCOUNT", "overridden");
    metadata.put("ISTIO_METAJSON_LABELS", "{\"app\":\"foo\"}");
    byte[] file = ClusterEnv.render(ClusterEnv.entries(metadata, inputs(Map.of("http", 8080, "grpc", 9090, "a", 80),
        0, "", Optional.of("10.10.10.10"), Optional.empty())));
    assertEquals("""
        CANONICAL_SERVICE='foo'
        ISTIO_INBOUND_PORTS='80,8080,9090'
        ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'
        ISTIO_METAJSON_LABELS='{"app":"foo"}'
        ISTIO_META_NETWORK=''
        ISTIO_NAMESPACE='bar'
        ISTIO_SERVICE='foo.bar'
        ISTIO_SERVICE_CIDR='*'
        ISTIO_SVC_IP='10.10.10.10'
        SERVICE_ACCOUNT='vm-sa'
        """, new String(file, StandardCharsets.UTF_8));
  }

  @ParameterizedTest(name = "statusPort {0} -> {1}")
  @CsvSource({"0, '22,15090,15021,15020'", "15020, '22,15090,15021,15020'", "15090, '22,15090,15021'",
      "15021, '22,15090,15021'", "12345, '22,15090,15021,12345'"})
  void excludesTheStatusPortAsIstioctlDoes(int statusPort, String excluded) {
    assertEquals(excluded, ClusterEnv.entries(Map.of(), inputs(Map.of(), statusPort, "", Optional.empty(),
        Optional.empty())).get("ISTIO_LOCAL_EXCLUDE_PORTS"));
  }

  @Test
  void aRevisionedControlPlaneIsTheCaAndNoPortsAreAllPorts() {
    Map<String, String> env = ClusterEnv.entries(Map.of(), inputs(Map.of(), 0, "rev-1", Optional.empty(),
        Optional.empty()));
    assertEquals("istiod-rev-1.istio-system.svc:15012", env.get("CA_ADDR"));
    assertEquals("*", env.get("ISTIO_INBOUND_PORTS"));
    assertNull(env.get("ISTIO_SVC_IP"));
    for (String notRevisioned : new String[] {"", "default"}) {
      assertNull(ClusterEnv.entries(Map.of(), inputs(Map.of(), 0, notRevisioned, Optional.empty(),
          Optional.empty())).get("CA_ADDR"), notRevisioned);
    }
  }

  @Test
  void anExternalIpAlsoRewritesLegacyLocalhostProbes() {
    Map<String, String> env = ClusterEnv.entries(Map.of(), inputs(Map.of(), 0, "", Optional.empty(),
        Optional.of("203.0.113.7")));
    assertEquals("203.0.113.7", env.get("ISTIO_SVC_IP"));
    assertEquals("true", env.get("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION"));
    assertNull(ClusterEnv.entries(Map.of(), inputs(Map.of(), 0, "", Optional.of("10.0.0.1"),
        Optional.empty())).get("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION"));
  }
}
