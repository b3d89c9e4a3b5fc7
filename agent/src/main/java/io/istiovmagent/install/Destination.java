package io.istiovmagent.install;

import io.istiovmagent.bundle.BundleFile;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;

/** Where istio-sidecar expects each bundle file, and with what mode (owner: istio-proxy). */
public enum Destination {
  ROOT_CERT(BundleFile.ROOT_CERT, "/etc/certs/root-cert.pem", "rw-r--r--", false),
  TOKEN(BundleFile.TOKEN, "/var/run/secrets/tokens/istio-token", "rw-r-----", true),
  CLUSTER_ENV(BundleFile.CLUSTER_ENV, "/var/lib/istio/envoy/cluster.env", "rw-r--r--", true),
  MESH(BundleFile.MESH, "/etc/istio/config/mesh", "rw-r--r--", true),
  SIDECAR_ENV(BundleFile.SIDECAR_ENV, "/var/lib/istio/envoy/sidecar.env", "rw-r--r--", true);

  /** Directories istio-sidecar's files live in, owned by istio-proxy, 0755. Parents are root's. */
  static final String[] DIRECTORIES = {"/etc/certs", "/var/run/secrets", "/var/run/secrets/tokens",
      "/var/lib/istio", "/var/lib/istio/envoy", "/etc/istio/config", "/etc/istio/proxy"};

  public static final String HOSTS = "/etc/hosts";

  private final BundleFile file;
  private final String path;
  private final Set<PosixFilePermission> mode;
  private final boolean enforceModeWhenUnchanged;

  /**
   * @param enforceModeWhenUnchanged false for root-cert.pem, which pilot-agent rewrites with its own mode: the
   *     agent compares content and does not fight over the mode
   */
  Destination(BundleFile file, String path, String mode, boolean enforceModeWhenUnchanged) {
    this.file = file;
    this.path = path;
    this.mode = PosixFilePermissions.fromString(mode);
    this.enforceModeWhenUnchanged = enforceModeWhenUnchanged;
  }

  public BundleFile file() {
    return file;
  }

  public String path() {
    return path;
  }

  public Set<PosixFilePermission> mode() {
    return mode;
  }

  boolean enforceModeWhenUnchanged() {
    return enforceModeWhenUnchanged;
  }

  public static Optional<Destination> of(BundleFile f) {
    for (Destination d : values()) {
      if (d.file == f) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }
}
