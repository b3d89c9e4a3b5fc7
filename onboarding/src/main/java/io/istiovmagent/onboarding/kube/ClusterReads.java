package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.istiovmagent.onboarding.generate.InjectorValues;
import io.istiovmagent.onboarding.generate.InvalidInputException;
import io.istiovmagent.onboarding.generate.WorkloadGroup;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What istioctl reads from the cluster for a bundle, but the token: the WorkloadGroup, the mesh config, the cluster
 * id, the root certificate and the east-west gateway's address. Each read that fails says which object is missing or
 * forbidden and what to do, as a {@link Problem}; nothing here holds a secret.
 */
final class ClusterReads {
  static final String NETWORK_LABEL = "topology.istio.io/network";
  /** The versions a WorkloadGroup is served as, newest first: v1 from Istio 1.22, v1beta1 and v1alpha3 before. */
  private static final List<String> GROUP_VERSIONS = List.of("v1", "v1beta1", "v1alpha3");

  /** What the service was told about the mesh (flags), beside what it reads. */
  record Settings(String istioNamespace, String revision, Optional<String> clusterId, String gatewayNamespace,
      String gatewayName, Optional<String> gatewayAddress) {
    boolean revisioned() {
      return !revision.isEmpty() && !revision.equals("default");
    }

    String suffixed(String name) {
      return revisioned() ? name + "-" + revision : name;
    }
  }

  /** Everything but the token. */
  record Inputs(WorkloadGroup group, String meshConfig, String clusterId, byte[] rootCert,
      Optional<String> gatewayAddress) {}

  /** A read that failed: 404 (missing, the operator creates something) or 503 (the cluster cannot answer now). */
  static final class Problem extends Exception {
    private final boolean missing;

    Problem(boolean missing, String message) {
      super(message, null, false, false);
      this.missing = missing;
    }

    boolean missing() {
      return missing;
    }
  }

  private final KubernetesClient client;
  private final Settings settings;
  private volatile String groupVersion; // the version that answered last; tried first

  ClusterReads(KubernetesClient client, Settings settings) {
    this.client = client;
    this.settings = settings;
  }

  Settings settings() {
    return settings;
  }

  Inputs read(String namespace, String name) throws Problem {
    WorkloadGroup group = group(namespace, name);
    String mesh = configMapValue(settings.istioNamespace(), settings.suffixed("istio"), "mesh",
        "the mesh config, written by istiod's installation" + (settings.revisioned()
            ? " of revision " + settings.revision() : "; for a revisioned control plane start the service with "
            + "--revision REV"));
    String clusterId = settings.clusterId().isPresent() ? settings.clusterId().get() : clusterId();
    String rootCert = configMapValue(namespace, "istio-ca-root-cert", "root-cert.pem",
        "the mesh's root certificate, which istiod writes into every namespace it watches: is " + namespace
            + " outside the mesh's discoverySelectors, or is istiod not running?");
    return new Inputs(group, mesh, clusterId, rootCert.getBytes(StandardCharsets.UTF_8),
        gatewayAddress(group));
  }

  private WorkloadGroup group(String namespace, String name) throws Problem {
    Map<String, Object> object = groupObject(namespace, name).orElseThrow(() -> new Problem(true, "no WorkloadGroup "
        + namespace + "/" + name + " in the cluster; create it (kubectl -n " + namespace + " apply -f "
        + "workloadgroup.yaml), or point the VM's bundle.source at its group"));
    try {
      return WorkloadGroup.fromObject(object, Optional.of(namespace));
    } catch (InvalidInputException e) {
      throw new Problem(false, "WorkloadGroup " + namespace + "/" + name + " cannot be used: " + e.getMessage());
    }
  }

  /** The group as the API returns it (v1, else v1beta1, else v1alpha3); empty when there is none. */
  Optional<Map<String, Object>> groupObject(String namespace, String name) throws Problem {
    String first = groupVersion;
    List<String> order = first == null ? GROUP_VERSIONS
        : Stream.concat(Stream.of(first),
            GROUP_VERSIONS.stream().filter(v -> !v.equals(first))).toList();
    for (String version : order) {
      ResourceDefinitionContext ctx = new ResourceDefinitionContext.Builder().withGroup("networking.istio.io")
          .withVersion(version).withKind("WorkloadGroup").withPlural("workloadgroups").withNamespaced(true).build();
      GenericKubernetesResource found;
      try {
        found = client.genericKubernetesResources(ctx).inNamespace(namespace).withName(name).get();
      } catch (KubernetesClientException e) {
        throw failure(e, "get networking.istio.io workloadgroups in " + namespace);
      }
      if (found != null) {
        groupVersion = version;
        @SuppressWarnings("unchecked")
        Map<String, Object> object = client.getKubernetesSerialization().convertValue(found, Map.class);
        return Optional.of(object);
      }
    }
    return Optional.empty();
  }

  private String clusterId() throws Problem {
    String injector = settings.suffixed("istio-sidecar-injector");
    String values = configMapValue(settings.istioNamespace(), injector, "values",
        "the injector's values, where the cluster id (global.multiCluster.clusterName) is read from; or start the "
            + "service with --cluster-id");
    try {
      String name = InjectorValues.clusterName(values);
      // An empty name is what istiod itself calls "Kubernetes" (CLUSTER_ID's default, and the injector's).
      return name.isEmpty() ? "Kubernetes" : name;
    } catch (InvalidInputException e) {
      throw new Problem(false, "ConfigMap " + settings.istioNamespace() + "/" + injector + ": " + e.getMessage()
          + "; or start the service with --cluster-id");
    }
  }

  /**
   * The gateway's address: the one given, else for a group on its own network the gateway labelled with the
   * cluster's network, else the configured Service. Its load balancer's IP, or host name (hosts is then empty and
   * the VM resolves it), or its first external IP.
   */
  private Optional<String> gatewayAddress(WorkloadGroup group) throws Problem {
    if (settings.gatewayAddress().isPresent()) {
      return settings.gatewayAddress();
    }
    Service gateway = null;
    String described = "Service " + settings.gatewayNamespace() + "/" + settings.gatewayName();
    if (!group.template().network().isEmpty()) {
      Optional<String> clusterNetwork = clusterNetwork();
      if (clusterNetwork.isPresent() && !clusterNetwork.get().equals(group.template().network())) {
        List<Service> labelled;
        try {
          labelled = client.services().inNamespace(settings.istioNamespace())
              .withLabel(NETWORK_LABEL, clusterNetwork.get()).list().getItems();
        } catch (KubernetesClientException e) {
          throw failure(e, "list services in " + settings.istioNamespace());
        }
        gateway = labelled.stream().filter(s -> address(s).isPresent()).findFirst()
            .orElse(labelled.isEmpty() ? null : labelled.get(0));
        described = gateway != null ? "Service " + settings.istioNamespace() + "/" + gateway.getMetadata().getName()
            : described;
      }
    }
    if (gateway == null) {
      try {
        gateway = client.services().inNamespace(settings.gatewayNamespace()).withName(settings.gatewayName()).get();
      } catch (KubernetesClientException e) {
        throw failure(e, "get services in " + settings.gatewayNamespace());
      }
    }
    if (gateway == null) {
      throw new Problem(false, "no east-west gateway: " + described + " does not exist; install it (Istio's "
          + "samples/multicluster/gen-eastwest-gateway.sh), or start the service with --gateway NS/NAME or "
          + "--gateway-address");
    }
    Optional<String> address = address(gateway);
    if (address.isEmpty()) {
      throw new Problem(false, "the east-west gateway " + described + " has no external address yet (its load "
          + "balancer is pending?); or start the service with --gateway-address");
    }
    return address;
  }

  private Optional<String> clusterNetwork() throws Problem {
    Namespace ns;
    try {
      ns = client.namespaces().withName(settings.istioNamespace()).get();
    } catch (KubernetesClientException e) {
      throw failure(e, "get namespaces");
    }
    return ns == null || ns.getMetadata().getLabels() == null ? Optional.empty()
        : Optional.ofNullable(ns.getMetadata().getLabels().get(NETWORK_LABEL)).filter(s -> !s.isEmpty());
  }

  static Optional<String> address(Service s) {
    if (s.getStatus() != null && s.getStatus().getLoadBalancer() != null
        && s.getStatus().getLoadBalancer().getIngress() != null) {
      for (LoadBalancerIngress i : s.getStatus().getLoadBalancer().getIngress()) {
        if (i.getIp() != null && !i.getIp().isEmpty()) {
          return Optional.of(i.getIp());
        }
        if (i.getHostname() != null && !i.getHostname().isEmpty()) {
          return Optional.of(i.getHostname());
        }
      }
    }
    if (s.getSpec() != null && s.getSpec().getExternalIPs() != null && !s.getSpec().getExternalIPs().isEmpty()) {
      return Optional.of(s.getSpec().getExternalIPs().get(0));
    }
    return Optional.empty();
  }

  private String configMapValue(String namespace, String name, String key, String what) throws Problem {
    ConfigMap cm;
    try {
      cm = client.configMaps().inNamespace(namespace).withName(name).get();
    } catch (KubernetesClientException e) {
      throw failure(e, "get configmaps in " + namespace);
    }
    if (cm == null) {
      throw new Problem(false, "no ConfigMap " + namespace + "/" + name + " (" + what + ")");
    }
    String value = cm.getData() == null ? null : cm.getData().get(key);
    if (value == null) {
      throw new Problem(false, "ConfigMap " + namespace + "/" + name + " has no key " + key + " (" + what + ")");
    }
    return value;
  }

  /** A refused or failed API call, by its HTTP status: RBAC names the permission the service lacks. */
  static Problem failure(KubernetesClientException e, String permission) {
    if (e.getCode() == 401 || e.getCode() == 403) {
      return new Problem(false, "the Kubernetes API refused the onboarding service (HTTP " + e.getCode() + "): it "
          + "needs the permission to " + permission + " (RBAC: see the service's Role in manifests/)");
    }
    return new Problem(false, "the Kubernetes API could not answer" + (e.getCode() > 0 ? " (HTTP " + e.getCode()
        + ")" : "") + " to " + permission + ": "
        + io.istiovmagent.bundle.Problem.oneLine(KubernetesMode.cause(e), 300));
  }
}
