package io.istiovmagent.verify;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Decides whether a bundle may be installed. Pure: the files, the policy and the clock in; a verdict out. Every
 * rule is checked and every problem reported, so one run shows a user all that is wrong.
 */
public final class BundleVerifier {
  private static final byte[] PRIVATE_KEY_MARK = "PRIVATE KEY-----".getBytes(StandardCharsets.US_ASCII);

  private final Clock clock;
  private final Set<String> allowedHostNames;

  public BundleVerifier(Clock clock, Set<String> allowedHostNames) {
    this.clock = clock;
    this.allowedHostNames = allowedHostNames.stream().map(s -> s.toLowerCase(Locale.ROOT))
        .collect(Collectors.toUnmodifiableSet());
  }

  public VerifiedBundle verify(RawBundle raw) throws BadBundleException {
    return verify(raw, false);
  }

  /**
   * Verifies the last-known-good bundle for restoring after a reboot: every rule holds, except that a token which
   * has expired (or is not valid yet) is a warning. It is restored all the same, because pilot-agent may not need
   * it while /etc/certs/cert-chain.pem is valid, and nothing better is at hand until the source answers.
   */
  public VerifiedBundle verifyForRestore(RawBundle raw) throws BadBundleException {
    return verify(raw, true);
  }

  private VerifiedBundle verify(RawBundle raw, boolean tokenTimeAsWarning) throws BadBundleException {
    Instant now = clock.instant();
    Problems problems = new Problems();
    Map<BundleFile, byte[]> files = raw.files();
    for (BundleFile f : BundleFile.values()) {
      if (f.required() && !files.containsKey(f)) {
        problems.error(f.fileName(), "missing", "is missing from the bundle; `istioctl x workload entry configure` "
            + "writes " + BundleFile.knownNames().replace(", sidecar.env", ""));
      }
    }
    files.forEach((f, bytes) -> {
      if (indexOf(bytes, PRIVATE_KEY_MARK) >= 0) {
        problems.error(f.fileName(), "private-key", "contains private key material; a bundle must never carry a "
            + "private key (the VM's key is made on the VM by pilot-agent)");
      }
    });

    EnvFile clusterEnv = null;
    if (files.containsKey(BundleFile.CLUSTER_ENV)) {
      clusterEnv = EnvFile.parse("cluster.env", files.get(BundleFile.CLUSTER_ENV), problems);
      if (clusterEnv != null) {
        if (clusterEnv.nonEmpty("SERVICE_ACCOUNT") == null) {
          problems.error("cluster.env", "env-required", "does not set SERVICE_ACCOUNT");
        }
        if (clusterEnv.nonEmpty("POD_NAMESPACE") == null && clusterEnv.nonEmpty("ISTIO_NAMESPACE") == null) {
          problems.error("cluster.env", "env-required", "sets neither POD_NAMESPACE nor ISTIO_NAMESPACE");
        }
      }
    }
    EnvFile sidecarEnv = files.containsKey(BundleFile.SIDECAR_ENV)
        ? EnvFile.parse("sidecar.env", files.get(BundleFile.SIDECAR_ENV), problems) : null;

    TokenClaims token = null;
    if (files.containsKey(BundleFile.TOKEN)) {
      String ns = null;
      String sa = null;
      if (clusterEnv != null) {
        ns = clusterEnv.nonEmpty("POD_NAMESPACE") != null ? clusterEnv.nonEmpty("POD_NAMESPACE")
            : clusterEnv.nonEmpty("ISTIO_NAMESPACE");
        sa = clusterEnv.nonEmpty("SERVICE_ACCOUNT");
      }
      token = TokenClaims.parse(files.get(BundleFile.TOKEN), ns, sa, now, tokenTimeAsWarning, problems);
    }
    List<RootCertificate> certs = files.containsKey(BundleFile.ROOT_CERT)
        ? RootCertificate.parse(files.get(BundleFile.ROOT_CERT), now, problems) : null;
    List<HostsEntry> hosts = files.containsKey(BundleFile.HOSTS)
        ? HostsEntry.parse(files.get(BundleFile.HOSTS), allowedHostNames, problems) : null;
    MeshConfig mesh = files.containsKey(BundleFile.MESH) ? MeshConfig.parse(files.get(BundleFile.MESH), problems) : null;

    if (problems.hasErrors()) {
      throw new BadBundleException(problems.errors());
    }
    return new VerifiedBundle(raw, clusterEnv, Optional.ofNullable(sidecarEnv), token, certs, hosts, mesh,
        problems.warnings());
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
