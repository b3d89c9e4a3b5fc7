package io.istiovmagent.bundle;

import java.util.Optional;

/** The files `istioctl x workload entry configure` writes, and the only names a bundle may hold. */
public enum BundleFile {
  CLUSTER_ENV("cluster.env", true),
  MESH("mesh.yaml", true),
  ROOT_CERT("root-cert.pem", true),
  TOKEN("istio-token", true),
  HOSTS("hosts", true),
  /** Written only by Istio 1.11 (`ISTIO_SVC_IP=...`). */
  SIDECAR_ENV("sidecar.env", false);

  private final String fileName;
  private final boolean required;

  BundleFile(String fileName, boolean required) {
    this.fileName = fileName;
    this.required = required;
  }

  public String fileName() {
    return fileName;
  }

  public boolean required() {
    return required;
  }

  public static Optional<BundleFile> byName(String name) {
    for (BundleFile f : values()) {
      if (f.fileName.equals(name)) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }

  public static String knownNames() {
    StringBuilder sb = new StringBuilder();
    for (BundleFile f : values()) {
      if (sb.length() > 0) {
        sb.append(", ");
      }
      sb.append(f.fileName);
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return fileName;
  }
}
