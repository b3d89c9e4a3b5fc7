package io.istiovmagent.onboarding.kube;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two credentials the service hands out, as strings and as what the cluster keeps of them (a hash, never the
 * credential). Pure but for the random numbers.
 *
 * <ul>
 *   <li>A <b>join token</b>, {@code ID.SECRET} ({@code [a-z0-9]{6}.[a-z0-9]{26}}, as kubeadm's bootstrap tokens,
 *       ~134 bits), kept as the Secret {@code istio-vm-join-ID} in the namespace it grants. It only enrols VMs.</li>
 *   <li>A <b>VM credential</b>, {@code vmc.NAMESPACE.MACHINE-ID.SECRET}, kept as the Secret
 *       {@code istio-vm-cred-MACHINE-ID}: one per machine per namespace, so two VMs can never hold a credential for
 *       the same machine id. The namespace and machine id in it are not secret (reports carry them); the secret
 *       part is 32 characters of [a-z0-9] (~165 bits).</li>
 * </ul>
 */
final class Secrets {
  static final String JOIN_TYPE = "istio-vm-agent.io/join-token";
  static final String CREDENTIAL_TYPE = "istio-vm-agent.io/vm-credential";
  static final String KIND_LABEL = "istio-vm-agent.io/kind";
  static final String GROUP_LABEL = "istio-vm-agent.io/group";
  static final String MACHINE_LABEL = "istio-vm-agent.io/machine-id";
  static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  static final String JOIN_PREFIX = "istio-vm-join-";
  static final String CREDENTIAL_PREFIX = "istio-vm-cred-";

  private static final Pattern JOIN = Pattern.compile("([a-z0-9]{6})\\.[a-z0-9]{26}");
  private static final Pattern CREDENTIAL = Pattern.compile(
      "vmc\\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\\.([0-9a-f]{32})\\.[a-z0-9]{32}");
  private static final Pattern MACHINE_ID = Pattern.compile("[0-9a-f]{32}");
  private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private Secrets() {}

  /** A credential as presented: which Secret to look at, and the whole string to hash. */
  record Presented(String namespace, String name, String value) {
    @Override
    public String toString() {
      return "Presented[" + namespace + "/" + name + "]"; // never the value
    }
  }

  static String newJoinToken() {
    return random(6) + "." + random(26);
  }

  static String newCredential(String namespace, String machineId) {
    return "vmc." + namespace + "." + machineId + "." + random(32);
  }

  /** The join token's Secret, in the namespace of the request that presents it; empty if it is not one. */
  static Optional<Presented> joinToken(String token, String namespace) {
    Matcher m = token == null ? null : JOIN.matcher(token);
    return m != null && m.matches() ? Optional.of(new Presented(namespace, JOIN_PREFIX + m.group(1), token))
        : Optional.empty();
  }

  static String joinTokenId(String token) {
    Matcher m = JOIN.matcher(token);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a join token");
    }
    return m.group(1);
  }

  /** The VM credential's Secret; empty if it is not one. */
  static Optional<Presented> credential(String token) {
    Matcher m = token == null ? null : CREDENTIAL.matcher(token);
    return m != null && m.matches() ? Optional.of(new Presented(m.group(1), CREDENTIAL_PREFIX + m.group(3), token))
        : Optional.empty();
  }

  static boolean isMachineId(String s) {
    return s != null && MACHINE_ID.matcher(s).matches();
  }

  /** What the cluster keeps: {@code sha256:HEX} of the whole credential. */
  static String hash(String credential) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(credential.getBytes(StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
    }
  }

  /** Compares in time independent of where the two differ. */
  static boolean matches(String credential, String storedHash) {
    return storedHash != null && MessageDigest.isEqual(hash(credential).getBytes(StandardCharsets.US_ASCII),
        storedHash.getBytes(StandardCharsets.US_ASCII));
  }

  private static String random(int n) {
    char[] out = new char[n];
    for (int i = 0; i < n; i++) {
      out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return new String(out);
  }
}
