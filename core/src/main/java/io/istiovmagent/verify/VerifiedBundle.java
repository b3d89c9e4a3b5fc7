package io.istiovmagent.verify;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A bundle that passed every rule, with what was learnt from it. Only a VerifiedBundle can be installed. */
public record VerifiedBundle(RawBundle raw, EnvFile clusterEnv, Optional<EnvFile> sidecarEnv, TokenClaims token,
    List<RootCertificate> rootCertificates, List<HostsEntry> hosts, MeshConfig mesh, List<Problem> warnings) {

  public String revision() {
    return raw.revision();
  }

  public String namespace() {
    String ns = clusterEnv.nonEmpty("POD_NAMESPACE");
    return ns != null ? ns : clusterEnv.nonEmpty("ISTIO_NAMESPACE");
  }

  public String serviceAccount() {
    return clusterEnv.nonEmpty("SERVICE_ACCOUNT");
  }

  /** The WorkloadGroup: the auto-registration group, else the workload name. */
  public String workloadGroup() {
    String g = clusterEnv.nonEmpty("ISTIO_META_AUTO_REGISTER_GROUP");
    return g != null ? g : clusterEnv.nonEmpty("ISTIO_META_WORKLOAD_NAME");
  }

  /**
   * The bytes to install for each file that is installed as a file (hosts goes into a block of /etc/hosts).
   * Environment files are re-serialised; the rest are installed as received.
   */
  public Map<BundleFile, byte[]> installContent() {
    Map<BundleFile, byte[]> out = new EnumMap<>(BundleFile.class);
    out.put(BundleFile.CLUSTER_ENV, clusterEnv.canonicalBytes());
    sidecarEnv.ifPresent(env -> out.put(BundleFile.SIDECAR_ENV, env.canonicalBytes()));
    for (BundleFile f : new BundleFile[] {BundleFile.MESH, BundleFile.ROOT_CERT, BundleFile.TOKEN}) {
      out.put(f, raw.files().get(f));
    }
    return out;
  }

  @Override
  public String toString() {
    return "VerifiedBundle{" + raw.revision() + "}";
  }
}
