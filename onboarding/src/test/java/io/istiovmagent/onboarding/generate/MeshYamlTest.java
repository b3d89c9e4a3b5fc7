package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MeshYamlTest {
  private static final String MESH = """
      defaultConfig:
        discoveryAddress: istiod.istio-system.svc:15012
        meshId: mesh1
        proxyMetadata: {}
        readinessProbe:
          tcpSocket:
            port: 1
      trustDomain: cluster.local
      """;

  private static WorkloadGroup group(String extra) throws Exception {
    return WorkloadGroup.parse(WorkloadGroupTest.GROUP_WITHOUT_PROBE + extra, Optional.empty());
  }

  @Test
  void writesTheDefaultConfigWithTheWorkloadsMetadata() throws Exception {
    MeshYaml.Result r = MeshYaml.build(MESH, group("  probe:\n    httpGet:\n      port: 8080\n"),
        new MeshYaml.Options("Kubernetes", "", "istio-system", true, false));
    assertEquals("""
        defaultConfig:
          discoveryAddress: istiod.istio-system.svc:15012
          meshId: mesh1
          proxyMetadata:
            A: "1"
            CANONICAL_REVISION: v1
            CANONICAL_SERVICE: foo
            ISTIO_META_CLUSTER_ID: Kubernetes
            ISTIO_META_DNS_CAPTURE: "true"
            ISTIO_META_MESH_ID: mesh1
            ISTIO_META_NETWORK: vm-network
            ISTIO_META_POD_PORTS: '[{"name":"grpc","containerPort":9090,"protocol":""},{"name":"http","containerPort":8080,"protocol":""}]'
            ISTIO_META_WORKLOAD_NAME: foo
            ISTIO_METAJSON_LABELS: '{"app":"foo","service.istio.io/canonical-name":"foo","service.istio.io/canonical-revision":"v1","version":"v1"}'
            POD_NAMESPACE: bar
            SERVICE_ACCOUNT: vm-sa
            TRUST_DOMAIN: cluster.local
          readinessProbe:
            httpGet:
              port: 8080
        """, new String(r.file(), StandardCharsets.UTF_8));
    assertEquals("1", r.proxyMetadata().get("A"));
    assertEquals(0, r.statusPort());
  }

  /**
   * A mesh without defaultConfig keeps the seeded empty proxyMetadata; a revisioned control plane gets its istiod as
   * the discovery address; without DNS capture the mesh's own value survives; the WorkloadGroup's missing probe
   * removes the mesh's.
   */
  @Test
  void revisionedWithoutDnsCaptureAndNoProbe() throws Exception {
    String mesh = "defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"false\"\n  statusPort: 15099\n"
        + "  readinessProbe:\n    tcpSocket:\n      port: 1\n";
    MeshYaml.Result r = MeshYaml.build(mesh, group(""), new MeshYaml.Options("", "rev-1", "istio-system", false,
        true));
    String yaml = new String(r.file(), StandardCharsets.UTF_8);
    assertTrue(yaml.contains("  discoveryAddress: istiod-rev-1.istio-system.svc:15012\n"), yaml);
    assertTrue(yaml.contains("    ISTIO_META_DNS_CAPTURE: \"false\"\n"), yaml);
    assertTrue(yaml.contains("    ISTIO_META_AUTO_REGISTER_GROUP: foo\n"), yaml);
    assertTrue(yaml.contains("    ISTIO_META_CLUSTER_ID: \"\"\n"), yaml);
    assertTrue(yaml.contains("    TRUST_DOMAIN: \"\"\n"), yaml);
    assertFalse(yaml.contains("readinessProbe"), yaml);
    assertEquals(15099, r.statusPort());
  }

  /** A later annotation wins: spec.metadata's over metadata's, field by field replacing the mesh's. */
  @Test
  void theGroupsAnnotationsApplyInIstioctlsOrder() throws Exception {
    WorkloadGroup g = group("");
    WorkloadGroup withSpec = new WorkloadGroup(g.name(), g.namespace(), g.annotations(), g.specLabels(),
        Map.of(MeshYaml.PROXY_CONFIG_ANNOTATION, "{\"proxyMetadata\":{\"A\":\"2\",\"B\":\"b\"},"
            + "\"concurrency\":2}"), g.template(), g.probe());
    MeshYaml.Result r = MeshYaml.build(MESH, withSpec, new MeshYaml.Options("c", "", "istio-system", true, false));
    assertEquals("2", r.proxyMetadata().get("A"));
    assertEquals("b", r.proxyMetadata().get("B"));
    assertTrue(new String(r.file(), StandardCharsets.UTF_8).contains("\n  concurrency: 2\n"));
  }
}
