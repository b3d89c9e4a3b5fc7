package io.istiovmagent.sample;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Generates a bundle in exactly the formats `istioctl x workload entry configure` writes, with a throwaway root CA
 * and a JWT signed by a throwaway key: for the demo, the tests and the benchmarks. Nothing in it is trusted by any
 * real mesh; istiod would reject its token.
 */
public final class SampleBundle {
  /** What the sample describes. */
  public record Spec(String namespace, String serviceAccount, String group, String trustDomain, String istiodAddress,
      Duration tokenLifetime, Duration caLifetime) {
    public static Spec defaults() {
      return new Spec("vm-namespace", "vm-sa", "hello-vm", "cluster.local", "192.0.2.10", Duration.ofHours(1),
          Duration.ofDays(3650));
    }

    public Spec withTokenLifetime(Duration d) {
      return new Spec(namespace, serviceAccount, group, trustDomain, istiodAddress, d, caLifetime);
    }
  }

  private SampleBundle() {}

  /**
   * Writes a sample bundle of the default spec, generated now, to {@code out}: a directory as istioctl's {@code -o}
   * makes, or with {@code tar} a .tar.gz file as the onboarding protocol serves it.
   */
  public static void write(Path out, boolean tar) throws IOException {
    write(generate(Spec.defaults(), Instant.now()), out, tar);
  }

  /** Writes {@code files} to {@code out}: a directory of them, or with {@code tar} a .tar.gz file. */
  public static void write(Map<BundleFile, byte[]> files, Path out, boolean tar) throws IOException {
    if (tar) {
      Files.write(out, TarGzWriter.write(files));
      return;
    }
    Files.createDirectories(out);
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(out.resolve(e.getKey().fileName()), e.getValue());
    }
  }

  public static Map<BundleFile, byte[]> generate(Spec spec, Instant now) {
    Objects.requireNonNull(spec, "spec == null");
    Map<BundleFile, byte[]> files = new EnumMap<>(BundleFile.class);
    files.put(BundleFile.CLUSTER_ENV, utf8(clusterEnv(spec)));
    files.put(BundleFile.MESH, utf8(meshYaml(spec)));
    files.put(BundleFile.ROOT_CERT, utf8(rootCertPem(spec, now)));
    files.put(BundleFile.TOKEN, utf8(token(spec, now)));
    files.put(BundleFile.HOSTS, utf8(spec.istiodAddress() + " istiod.istio-system.svc\n"));
    return files;
  }

  static String clusterEnv(Spec s) {
    String labels = "{\"app\":\"" + s.group() + "\",\"service.istio.io/canonical-name\":\"" + s.group()
        + "\",\"service.istio.io/canonical-revision\":\"latest\"}";
    return "CANONICAL_REVISION='latest'\n"
        + "CANONICAL_SERVICE='" + s.group() + "'\n"
        + "ISTIO_INBOUND_PORTS='*'\n"
        + "ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'\n"
        + "ISTIO_METAJSON_LABELS='" + labels + "'\n"
        + "ISTIO_META_AUTO_REGISTER_GROUP='" + s.group() + "'\n"
        + "ISTIO_META_CLUSTER_ID='Kubernetes'\n"
        + "ISTIO_META_DNS_CAPTURE='true'\n"
        + "ISTIO_META_MESH_ID='mesh1'\n"
        + "ISTIO_META_NETWORK=''\n"
        + "ISTIO_META_WORKLOAD_NAME='" + s.group() + "'\n"
        + "ISTIO_NAMESPACE='" + s.namespace() + "'\n"
        + "ISTIO_SERVICE='" + s.group() + "." + s.namespace() + "'\n"
        + "ISTIO_SERVICE_CIDR='*'\n"
        + "POD_NAMESPACE='" + s.namespace() + "'\n"
        + "SERVICE_ACCOUNT='" + s.serviceAccount() + "'\n"
        + "TRUST_DOMAIN='" + s.trustDomain() + "'\n";
  }

  static String meshYaml(Spec s) {
    String labels = "{\\\"app\\\":\\\"" + s.group() + "\\\",\\\"service.istio.io/canonical-name\\\":\\\""
        + s.group() + "\\\",\\\"service.istio.io/canonical-revision\\\":\\\"latest\\\"}";
    return "defaultConfig:\n"
        + "  discoveryAddress: istiod.istio-system.svc:15012\n"
        + "  proxyMetadata:\n"
        + "    CANONICAL_REVISION: latest\n"
        + "    CANONICAL_SERVICE: " + s.group() + "\n"
        + "    ISTIO_METAJSON_LABELS: \"" + labels + "\"\n"
        + "    ISTIO_META_AUTO_REGISTER_GROUP: " + s.group() + "\n"
        + "    ISTIO_META_CLUSTER_ID: Kubernetes\n"
        + "    ISTIO_META_DNS_CAPTURE: \"true\"\n"
        + "    ISTIO_META_MESH_ID: mesh1\n"
        + "    ISTIO_META_NETWORK: \"\"\n"
        + "    ISTIO_META_WORKLOAD_NAME: " + s.group() + "\n"
        + "    POD_NAMESPACE: " + s.namespace() + "\n"
        + "    SERVICE_ACCOUNT: " + s.serviceAccount() + "\n"
        + "    TRUST_DOMAIN: " + s.trustDomain() + "\n"
        + "  readinessProbe:\n"
        + "    httpGet:\n"
        + "      port: 80\n";
  }

  static String rootCertPem(Spec s, Instant now) {
    try {
      KeyPair kp = ecKeyPair();
      X500Name name = new X500Name("O=" + s.trustDomain());
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(64, new SecureRandom()),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(s.caLifetime())), name, kp.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(Extension.keyUsage, true,
          new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
      X509CertificateHolder cert = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
      StringWriter sw = new StringWriter();
      try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
        w.writeObject(cert);
      }
      return sw.toString();
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot generate a sample root certificate", e);
    }
  }

  /** A service-account-shaped JWT (ES256, signed by a key that is thrown away). */
  public static String token(Spec s, Instant now) {
    long iat = now.getEpochSecond();
    long exp = now.plus(s.tokenLifetime()).getEpochSecond();
    String header = "{\"alg\":\"ES256\",\"kid\":\"sample\",\"typ\":\"JWT\"}";
    String claims = "{\"aud\":[\"istio-ca\"],\"exp\":" + exp + ",\"iat\":" + iat + ",\"nbf\":" + iat
        + ",\"iss\":\"https://kubernetes.default.svc.cluster.local\""
        + ",\"kubernetes.io\":{\"namespace\":\"" + s.namespace() + "\",\"serviceaccount\":{\"name\":\""
        + s.serviceAccount() + "\"}}"
        + ",\"sub\":\"system:serviceaccount:" + s.namespace() + ":" + s.serviceAccount() + "\"}";
    Base64.Encoder enc = Base64.getUrlEncoder().withoutPadding();
    String signingInput = enc.encodeToString(utf8(header)) + "." + enc.encodeToString(utf8(claims));
    try {
      Signature sig = Signature.getInstance("SHA256withECDSAinP1363Format");
      sig.initSign(ecKeyPair().getPrivate());
      sig.update(utf8(signingInput));
      return signingInput + "." + enc.encodeToString(sig.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot sign a sample token", e);
    }
  }

  private static KeyPair ecKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
