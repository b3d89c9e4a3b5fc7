package io.istiovmagent.onboarding.generate;

import io.istiovmagent.bundle.BundleFile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The bundle {@code istioctl x workload entry configure} writes, from the values it reads from the cluster: one
 * generator for the offline {@code generate} command and for the service, which read those values from files and from
 * the Kubernetes API respectively. Pure: no I/O, no clock; the same request gives the same bytes.
 *
 * <p>cluster.env, mesh.yaml and hosts are istioctl's byte for byte, with the fixes docs/generator.md lists;
 * root-cert.pem and istio-token are the bytes given.
 */
public final class BundleGenerator {
  private BundleGenerator() {}

  /**
   * What istioctl reads: the group, the mesh config ({@code data.mesh} of the ConfigMap {@code istio[-REV]}), the
   * cluster id, the revision ("" or "default" for none), istio's namespace, the root certificate, the token, the
   * east-west gateway's address (an IP, or a host name, which leaves hosts empty), the VM's own address (internal or
   * external, at most one), and the two switches.
   */
  public record Request(WorkloadGroup group, String meshConfig, String clusterId, String revision,
      String istioNamespace, byte[] rootCert, byte[] token, Optional<String> gatewayAddress,
      Optional<String> internalIp, Optional<String> externalIp, boolean autoRegister, boolean captureDns) {
    public Request {
      Objects.requireNonNull(group, "group == null");
      Objects.requireNonNull(meshConfig, "meshConfig == null");
      Objects.requireNonNull(clusterId, "clusterId == null");
      Objects.requireNonNull(revision, "revision == null");
      Objects.requireNonNull(istioNamespace, "istioNamespace == null");
      rootCert = rootCert.clone();
      token = token.clone();
      Objects.requireNonNull(gatewayAddress, "gatewayAddress == null");
      Objects.requireNonNull(internalIp, "internalIp == null");
      Objects.requireNonNull(externalIp, "externalIp == null");
      if (internalIp.isPresent() && externalIp.isPresent()) {
        throw new IllegalArgumentException("an internal and an external IP: istioctl takes one or the other");
      }
    }

    /** The host name hosts maps to the gateway, and the only one a bundle of this request may name. */
    public String istiodName() {
      return Hosts.istiodName(revision, istioNamespace);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Request r && group.equals(r.group) && meshConfig.equals(r.meshConfig)
          && clusterId.equals(r.clusterId) && revision.equals(r.revision) && istioNamespace.equals(r.istioNamespace)
          && Arrays.equals(rootCert, r.rootCert) && Arrays.equals(token, r.token)
          && gatewayAddress.equals(r.gatewayAddress) && internalIp.equals(r.internalIp)
          && externalIp.equals(r.externalIp) && autoRegister == r.autoRegister && captureDns == r.captureDns;
    }

    @Override
    public int hashCode() {
      return Objects.hash(group, meshConfig, clusterId, revision, Arrays.hashCode(rootCert));
    }

    /** Never the token. */
    @Override
    public String toString() {
      return "Request{" + group.namespace() + "/" + group.name() + ", revision '" + revision + "', cluster '"
          + clusterId + "'}";
    }
  }

  /** The five files, and what an operator should hear about them (never their content). */
  public record Generated(Map<BundleFile, byte[]> files, List<String> warnings) {
    public Generated {
      files = Map.copyOf(files);
      warnings = List.copyOf(warnings);
    }
  }

  /** The cluster.env variable that names a VM's WorkloadEntry to its sidecar. */
  public static final String WORKLOAD_ENTRY = "ISTIO_META_WORKLOAD_ENTRY";

  public static Generated generate(Request r) throws InvalidInputException {
    WorkloadGroup g = r.group();
    MeshYaml.Result mesh = MeshYaml.build(r.meshConfig(), g,
        new MeshYaml.Options(r.clusterId(), r.revision(), r.istioNamespace(), r.captureDns(), r.autoRegister()));
    Map<String, String> env = ClusterEnv.entries(mesh.proxyMetadata(), new ClusterEnv.Inputs(g.name(),
        g.namespace(), g.template().serviceAccount(), g.template().ports(), mesh.statusPort(), r.revision(),
        r.istioNamespace(), r.internalIp(), r.externalIp()));
    List<String> warnings = new ArrayList<>();
    if (r.gatewayAddress().filter(Hosts::isIp).isEmpty()) {
      warnings.add("hosts is empty: " + r.gatewayAddress().map(a -> "the east-west gateway's address '" + a
          + "' is not an IP").orElse("no address for the east-west gateway") + ", so the VM must resolve "
          + r.istiodName() + " itself (DNS, or the agent's hosts.gatewayHostname)");
    }
    if (r.clusterId().isEmpty()) {
      warnings.add("the cluster id is empty (ISTIO_META_CLUSTER_ID=''): istiod's CA then validates the token "
          + "against its own cluster; name the cluster explicitly in a multi-cluster mesh");
    }
    Map<BundleFile, byte[]> files = new EnumMap<>(BundleFile.class);
    files.put(BundleFile.MESH, mesh.file());
    files.put(BundleFile.CLUSTER_ENV, ClusterEnv.render(env));
    files.put(BundleFile.ROOT_CERT, r.rootCert());
    files.put(BundleFile.TOKEN, r.token());
    files.put(BundleFile.HOSTS, Hosts.render(r.gatewayAddress(), r.revision(), r.istioNamespace()));
    return new Generated(files, warnings);
  }

  /**
   * The bundle {@code files} of a group made for one VM whose WorkloadEntry is {@code entryName}: cluster.env sets
   * {@code ISTIO_META_WORKLOAD_ENTRY}, so that istiod adopts the entry for its own health checks (istioctl has no
   * such flag; the variable is Istio's, since 1.18). The map given is not changed.
   */
  public static Map<BundleFile, byte[]> forEntry(Map<BundleFile, byte[]> files, String entryName) {
    Map<BundleFile, byte[]> out = new java.util.EnumMap<>(files);
    out.put(BundleFile.CLUSTER_ENV, ClusterEnv.with(files.get(BundleFile.CLUSTER_ENV), WORKLOAD_ENTRY, entryName));
    return out;
  }
}
