package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WorkloadGroupTest {
  /** A group with every field the bundle uses but the probe (MeshYamlTest adds one, or not). */
  static final String GROUP_WITHOUT_PROBE = """
      apiVersion: networking.istio.io/v1
      kind: WorkloadGroup
      metadata:
        name: foo
        namespace: bar
        annotations:
          proxy.istio.io/config: '{"proxyMetadata":{"A":"1"}}'
      spec:
        metadata:
          labels:
            app: foo
          annotations:
            note: x
        template:
          serviceAccount: vm-sa
          network: vm-network
          labels:
            version: v1
          ports:
            http: 8080
            grpc: 9090
      """;
  private static final String GROUP = GROUP_WITHOUT_PROBE + """
        probe:
          httpGet:
            port: 8080
      """;

  @Test
  void readsWhatTheBundleIsMadeFrom() throws Exception {
    WorkloadGroup g = WorkloadGroup.parse(GROUP, Optional.empty());
    assertEquals("foo", g.name());
    assertEquals("bar", g.namespace());
    assertEquals(Map.of("proxy.istio.io/config", "{\"proxyMetadata\":{\"A\":\"1\"}}"), g.annotations());
    assertEquals(Map.of("app", "foo"), g.specLabels());
    assertEquals(Map.of("note", "x"), g.specAnnotations());
    assertEquals(new WorkloadGroup.Template("vm-sa", Map.of("version", "v1"), Map.of("http", 8080, "grpc", 9090),
        "vm-network"), g.template());
    assertEquals(Optional.of(Map.of("httpGet", Map.of("port", 8080))), g.probe());
  }

  /** istioctl's defaults, for a file and (unlike istioctl) for an object from the API alike. */
  @Test
  void aBareGroupGetsIstioctlsDefaults() throws Exception {
    WorkloadGroup g = WorkloadGroup.parse("""
        apiVersion: networking.istio.io/v1alpha3
        kind: WorkloadGroup
        metadata:
          name: foo
        spec: {}
        """, Optional.of("bar"));
    assertEquals("bar", g.namespace(), "-n when the document names no namespace");
    assertEquals(new WorkloadGroup.Template("default", Map.of(), Map.of(), ""), g.template());
    assertEquals(Map.of(), g.specLabels());
    assertEquals(Optional.empty(), g.probe());
    WorkloadGroup fromApi = WorkloadGroup.fromObject(Map.of("metadata", Map.of("name", "foo", "namespace", "bar"),
        "spec", Map.of("template", Map.of("serviceAccount", ""))), Optional.empty());
    assertEquals("default", fromApi.template().serviceAccount());
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
      "kind: Pod\\napiVersion: v1\\nmetadata: {name: foo, namespace: bar} | not a WorkloadGroup: apiVersion 'v1', kind 'Pod'",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v2\\nmetadata: {name: foo, namespace: bar} | not a WorkloadGroup: apiVersion 'networking.istio.io/v2'",
      "apiVersion: networking.istio.io/v1\\nkind: WorkloadEntry\\nmetadata: {name: foo, namespace: bar} | not a WorkloadGroup: apiVersion 'networking.istio.io/v1', kind 'WorkloadEntry'",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {namespace: bar} | metadata.name is missing",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {name: foo} | metadata.namespace is missing",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {name: foo, namespace: bar}\\nspec: {metadata: {labels: {enabled: yes}}} | spec.metadata.labels.enabled must be a string, not boolean true (quote it",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {name: foo, namespace: bar}\\nspec: {template: {ports: {http: web}}} | spec.template.ports.http must be a port number (1-65535), not string web",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {name: foo, namespace: bar}\\nspec: {template: {ports: {http: 70000}}} | spec.template.ports.http must be a port number",
      "kind: WorkloadGroup\\napiVersion: networking.istio.io/v1\\nmetadata: {name: foo, namespace: bar}\\nspec: {template: []} | spec.template must be a mapping",
      "[a, b] | the WorkloadGroup must be a mapping",
      "a: [b | the WorkloadGroup is not acceptable YAML",
  })
  void refusesAGroupItCannotUseSayingWhy(String yaml, String message) {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> WorkloadGroup.parse(yaml.replace("\\n", "\n"), Optional.empty()));
    assertTrue(e.getMessage().startsWith(message), e.getMessage());
  }
}
