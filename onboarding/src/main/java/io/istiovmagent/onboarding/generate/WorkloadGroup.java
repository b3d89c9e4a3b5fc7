package io.istiovmagent.onboarding.generate;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A WorkloadGroup (networking.istio.io v1, v1beta1 or v1alpha3: the same message), what of it the bundle is made
 * from, with istioctl's defaults applied (a missing {@code spec.metadata} or {@code spec.template} is empty, an empty
 * service account is {@code default}). istioctl applies them only to a group read from a file; here a group from the
 * API gets them too, where istioctl would dereference a nil (the facts file, section 1.3).
 */
public record WorkloadGroup(String name, String namespace, Map<String, String> annotations,
    Map<String, String> specLabels, Map<String, String> specAnnotations, Template template,
    Optional<Map<String, Object>> probe) {

  /** {@code spec.template}: what every WorkloadEntry of the group starts from. */
  public record Template(String serviceAccount, Map<String, String> labels, Map<String, Integer> ports,
      String network) {
    public Template {
      Objects.requireNonNull(serviceAccount, "serviceAccount == null");
      labels = Map.copyOf(labels);
      ports = Map.copyOf(ports);
      Objects.requireNonNull(network, "network == null");
    }
  }

  static final List<String> API_VERSIONS = List.of("networking.istio.io/v1", "networking.istio.io/v1beta1",
      "networking.istio.io/v1alpha3");

  public WorkloadGroup {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(namespace, "namespace == null");
    annotations = Map.copyOf(annotations);
    specLabels = Map.copyOf(specLabels);
    specAnnotations = Map.copyOf(specAnnotations);
    Objects.requireNonNull(template, "template == null");
    Objects.requireNonNull(probe, "probe == null");
  }

  /**
   * Reads a WorkloadGroup document ({@code -f FILE}); one without apiVersion or kind is taken as a WorkloadGroup. {@code namespace} is used when the document names none (as
   * kubectl's {@code -n}); a namespace in neither is an error.
   */
  public static WorkloadGroup parse(String yaml, Optional<String> namespace) throws InvalidInputException {
    Map<String, Object> root = YamlTree.load(yaml, "the WorkloadGroup");
    String apiVersion = string(root, "apiVersion", "");
    String kind = string(root, "kind", "");
    // istioctl reads the document into a WorkloadGroup whatever it says it is (its own test cases name no
    // apiVersion); a document that names another kind or version is a mistake worth stopping for.
    boolean otherKind = !kind.isEmpty() && !kind.equals("WorkloadGroup");
    if (otherKind || !apiVersion.isEmpty() && !API_VERSIONS.contains(apiVersion)) {
      throw new InvalidInputException("not a WorkloadGroup: apiVersion '" + apiVersion + "', kind '" + kind
          + "'; expected kind WorkloadGroup of " + String.join(", ", API_VERSIONS));
    }
    return fromObject(root, namespace);
  }

  /** The group from its JSON/YAML object (a file's document, or what the Kubernetes API returned). */
  public static WorkloadGroup fromObject(Map<String, Object> root, Optional<String> namespace) throws InvalidInputException {
    Map<String, Object> metadata = YamlTree.map(root.get("metadata"), "metadata");
    String name = string(metadata, "metadata.name", "");
    if (name.isEmpty()) {
      throw new InvalidInputException("metadata.name is missing: the group's name names the workload");
    }
    String ns = string(metadata, "metadata.namespace", namespace.orElse(""));
    if (ns.isEmpty()) {
      throw new InvalidInputException("metadata.namespace is missing, and no namespace was given (-n NAMESPACE)");
    }
    Map<String, Object> spec = YamlTree.map(root.get("spec"), "spec");
    Map<String, Object> specMetadata = YamlTree.map(spec.get("metadata"), "spec.metadata");
    Map<String, Object> template = YamlTree.map(spec.get("template"), "spec.template");
    String serviceAccount = string(template, "spec.template.serviceAccount", "");
    Template t = new Template(serviceAccount.isEmpty() ? "default" : serviceAccount,
        YamlTree.strings(template.get("labels"), "spec.template.labels"), ports(template.get("ports")),
        string(template, "spec.template.network", ""));
    Optional<Map<String, Object>> probe = spec.get("probe") == null ? Optional.empty()
        : Optional.of(YamlTree.map(spec.get("probe"), "spec.probe"));
    return new WorkloadGroup(name, ns, YamlTree.strings(metadata.get("annotations"), "metadata.annotations"),
        YamlTree.strings(specMetadata.get("labels"), "spec.metadata.labels"),
        YamlTree.strings(specMetadata.get("annotations"), "spec.metadata.annotations"), t, probe);
  }

  /** A string field; its last path element is looked up in {@code m}; null or missing is {@code absent}. */
  private static String string(Map<String, Object> m, String path, String absent) throws InvalidInputException {
    Object v = m.get(path.substring(path.lastIndexOf('.') + 1));
    if (v == null) {
      return absent;
    }
    if (!(v instanceof String s)) {
      throw YamlTree.notAString(path, v);
    }
    return s;
  }

  private static Map<String, Integer> ports(Object o) throws InvalidInputException {
    if (o == null) {
      return Map.of();
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : YamlTree.map(o, "spec.template.ports").entrySet()) {
      if (!(e.getValue() instanceof Integer p) || p < 1 || p > 65535) {
        throw new InvalidInputException("spec.template.ports." + e.getKey() + " must be a port number (1-65535), not "
            + YamlTree.describe(e.getValue()));
      }
      out.put(e.getKey(), p);
    }
    return out;
  }
}
