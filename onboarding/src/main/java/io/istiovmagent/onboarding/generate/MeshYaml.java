package io.istiovmagent.onboarding.generate;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * mesh.yaml as istioctl makes it ({@code createMeshConfig}; the facts file, section 1.4): the mesh config's
 * {@code defaultConfig}, with the group's {@code proxy.istio.io/config} annotations applied, its probe as the
 * readiness probe, and the proxy metadata the workload needs, written as {@code {"defaultConfig": ...}} by
 * {@link GoYaml}. Also returns the final proxyMetadata, from which cluster.env starts.
 *
 * <p>The merge follows jsonpb's semantics on the tree, as istioctl's ApplyYAML does: a top-level field present in
 * the applied document replaces the whole field (no deep merge). What this does not do: jsonpb's normalisation of
 * ProxyConfig through its schema (dropping fields at their default value or unknown to the proto, rewriting a
 * duration like {@code 1m} as {@code 60s}); values pass through as the mesh config writes them, which is what
 * Istio's charts write already. One of istioctl's defects is not reproduced: with a mesh whose defaultConfig has no
 * proxyMetadata, istioctl panics when an annotation brings one (a write to a nil Go map); here its entries are kept.
 */
final class MeshYaml {
  static final String PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config";

  /** What the generator was told beside the group and the mesh config. */
  record Options(String clusterId, String revision, String istioNamespace, boolean captureDns, boolean autoRegister) {}

  /** The file and the proxyMetadata it holds. */
  record Result(byte[] file, Map<String, String> proxyMetadata, int statusPort) {}

  private MeshYaml() {}

  static Result build(String meshConfigYaml, WorkloadGroup g, Options o) throws InvalidInputException {
    Map<String, Object> mesh = new LinkedHashMap<>();
    Map<String, Object> seed = new LinkedHashMap<>();
    seed.put("proxyMetadata", new LinkedHashMap<String, Object>());
    mesh.put("defaultConfig", seed);
    mesh.putAll(YamlTree.load(meshConfigYaml, "the mesh config"));
    Map<String, Object> defaultConfig =
        new LinkedHashMap<>(YamlTree.map(mesh.get("defaultConfig"), "defaultConfig"));
    boolean revisioned = !o.revision().isEmpty() && !o.revision().equals("default");
    if (revisioned && stringOr(defaultConfig.get("discoveryAddress"), "").isEmpty()) {
      defaultConfig.put("discoveryAddress", "istiod-" + o.revision() + "." + o.istioNamespace() + ".svc:15012");
    }
    Map<String, String> metadata =
        YamlTree.strings(defaultConfig.get("proxyMetadata"), "defaultConfig.proxyMetadata");
    for (Map<String, String> annotations : List.of(g.annotations(), g.specAnnotations())) {
      String config = annotations.get(PROXY_CONFIG_ANNOTATION);
      if (config != null) {
        defaultConfig.putAll(YamlTree.load(config, "the " + PROXY_CONFIG_ANNOTATION + " annotation"));
        metadata.putAll(YamlTree.strings(defaultConfig.get("proxyMetadata"),
            PROXY_CONFIG_ANNOTATION + " proxyMetadata"));
      }
    }
    Map<String, String> labels = new TreeMap<>(g.specLabels());
    labels.putAll(g.template().labels());
    g.probe().ifPresentOrElse(p -> defaultConfig.put("readinessProbe", p),
        () -> defaultConfig.remove("readinessProbe"));

    CanonicalService canonical = CanonicalService.of(labels, g.name());
    metadata.put("CANONICAL_SERVICE", canonical.name());
    metadata.put("CANONICAL_REVISION", canonical.revision());
    metadata.put("POD_NAMESPACE", g.namespace());
    metadata.put("SERVICE_ACCOUNT", g.template().serviceAccount());
    metadata.put("TRUST_DOMAIN", stringOr(mesh.get("trustDomain"), ""));
    metadata.put("ISTIO_META_CLUSTER_ID", o.clusterId());
    metadata.put("ISTIO_META_MESH_ID", stringOr(defaultConfig.get("meshId"), ""));
    metadata.put("ISTIO_META_NETWORK", g.template().network());
    if (!g.template().ports().isEmpty()) {
      metadata.put("ISTIO_META_POD_PORTS", GoJson.podPorts(g.template().ports()));
    }
    metadata.put("ISTIO_META_WORKLOAD_NAME", g.name());
    Map<String, String> jsonLabels = new TreeMap<>(labels);
    jsonLabels.put(CanonicalService.NAME_LABEL, canonical.name());
    jsonLabels.put(CanonicalService.REVISION_LABEL, canonical.revision());
    metadata.put("ISTIO_METAJSON_LABELS", GoJson.object(jsonLabels));
    if (o.captureDns()) {
      metadata.put("ISTIO_META_DNS_CAPTURE", "true");
    }
    if (o.autoRegister()) {
      metadata.put("ISTIO_META_AUTO_REGISTER_GROUP", g.name());
    }
    defaultConfig.put("proxyMetadata", new LinkedHashMap<>(metadata));
    int statusPort = defaultConfig.get("statusPort") instanceof Integer p ? p : 0;
    String yaml = GoYaml.marshal(Map.of("defaultConfig", defaultConfig));
    return new Result(yaml.getBytes(StandardCharsets.UTF_8), Map.copyOf(metadata), statusPort);
  }

  private static String stringOr(Object o, String absent) {
    return o instanceof String s ? s : absent;
  }
}
