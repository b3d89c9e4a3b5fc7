package io.istiovmagent.server;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.util.IPAddress;

/**
 * The endpoint's TLS identity: a certificate chain and key from PEM files, or a self-signed certificate generated at
 * start (EC P-256, for localhost and 127.0.0.1, one year) that clients trust by its PEM or its fingerprint.
 * TLS 1.2 and 1.3 only.
 */
public final class ServerTls {
  /** The protocol versions offered; nothing older than TLS 1.2. */
  static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
  static final Duration GENERATED_LIFETIME = Duration.ofDays(365);

  private final SSLContext context;
  private final List<X509Certificate> chain;
  private final boolean generated;

  private ServerTls(PrivateKey key, List<X509Certificate> chain, boolean generated) {
    this.chain = List.copyOf(chain);
    this.generated = generated;
    this.context = sslContext(key, chain);
  }

  /**
   * Reads a certificate chain (leaf first) and its unencrypted private key (PKCS#8, or traditional EC/RSA) from PEM
   * files. Refuses a key that does not belong to the leaf, and a leaf that is not valid now.
   */
  public static ServerTls fromPem(Path chainFile, Path keyFile, Clock clock) throws ServerConfigException {
    List<X509Certificate> chain = readChain(chainFile);
    PrivateKey key = readKey(keyFile);
    X509Certificate leaf = chain.get(0);
    if (!belongsTo(key, leaf)) {
      throw new ServerConfigException("the key in " + keyFile + " does not belong to the first certificate in "
          + chainFile + "; the leaf certificate must come first, followed by its intermediates");
    }
    try {
      leaf.checkValidity(Date.from(clock.instant()));
    } catch (CertificateExpiredException e) {
      throw new ServerConfigException("the certificate in " + chainFile + " expired on "
          + leaf.getNotAfter().toInstant() + "; renew it");
    } catch (CertificateNotYetValidException e) {
      throw new ServerConfigException("the certificate in " + chainFile + " is not valid before "
          + leaf.getNotBefore().toInstant() + "; check this machine's clock or the certificate");
    }
    try {
      return new ServerTls(key, chain, false);
    } catch (IllegalStateException e) {
      throw new ServerConfigException("cannot use " + chainFile + " and " + keyFile + " for TLS: " + e.getMessage(),
          e);
    }
  }

  /**
   * A new self-signed certificate for {@code localhost}, {@code 127.0.0.1} and {@code extraNames} (host names or IP
   * literals), valid from an hour ago (clock skew) for a year. The key never leaves memory.
   */
  public static ServerTls selfSigned(Clock clock, List<String> extraNames) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      Set<String> names = new LinkedHashSet<>(List.of("localhost", "127.0.0.1"));
      names.addAll(extraNames);
      List<GeneralName> sans = new ArrayList<>();
      for (String n : names) {
        sans.add(IPAddress.isValid(n) ? new GeneralName(GeneralName.iPAddress, n)
            : new GeneralName(GeneralName.dNSName, n));
      }
      Instant now = clock.instant();
      X500Name subject = new X500Name("CN=istio-vm-agent onboarding endpoint");
      JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject,
          new BigInteger(64, new SecureRandom()).add(BigInteger.ONE), Date.from(now.minus(Duration.ofHours(1))),
          Date.from(now.plus(GENERATED_LIFETIME)), subject, kp.getPublic());
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      X509CertificateHolder holder = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(holder);
      return new ServerTls(kp.getPrivate(), List.of(cert), true);
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot generate a self-signed certificate: " + e.getMessage(), e);
    }
  }

  SSLContext sslContext() {
    return context;
  }

  /** True when the certificate was generated at start rather than read from files. */
  public boolean generated() {
    return generated;
  }

  /** The leaf certificate the endpoint presents. */
  public X509Certificate certificate() {
    return chain.get(0);
  }

  /** The leaf certificate as PEM: what a client passes as its CA file (--ca-file, bundle.caFile) to trust it. */
  public String certificatePem() {
    StringWriter sw = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
      w.writeObject(certificate());
    } catch (IOException e) {
      throw new IllegalStateException("writing PEM to memory cannot fail", e);
    }
    return sw.toString();
  }

  /** SHA-256 of the leaf certificate, as {@code openssl x509 -fingerprint -sha256} prints it: "AB:CD:...". */
  public String fingerprintSha256() {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(certificate().getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
    }
  }

  private static List<X509Certificate> readChain(Path file) throws ServerConfigException {
    List<X509Certificate> chain = new ArrayList<>();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
      JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
      for (Object o = pem.readObject(); o != null; o = pem.readObject()) {
        if (o instanceof X509CertificateHolder h) {
          chain.add(conv.getCertificate(h));
        }
      }
    } catch (IOException | GeneralSecurityException e) {
      throw new ServerConfigException("cannot read certificate file " + file + ": " + e.getMessage(), e);
    }
    if (chain.isEmpty()) {
      throw new ServerConfigException("certificate file " + file + " holds no PEM certificate (-----BEGIN "
          + "CERTIFICATE-----)");
    }
    return chain;
  }

  /** Messages never include key material: only the file name and what kind of object was found. */
  private static PrivateKey readKey(Path file) throws ServerConfigException {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
      for (Object o = pem.readObject(); o != null; o = pem.readObject()) {
        if (o instanceof PEMKeyPair kp) {
          return conv.getKeyPair(kp).getPrivate();
        }
        if (o instanceof PrivateKeyInfo info) {
          return conv.getPrivateKey(info);
        }
        if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
          throw new ServerConfigException("the key in " + file + " is encrypted; the endpoint needs it unencrypted "
              + "(e.g. openssl pkey -in KEY -out plain.pem) in a file only its owner can read (chmod 600)");
        }
      }
    } catch (IOException e) {
      throw new ServerConfigException("cannot read key file " + file + " as PEM", e);
    }
    throw new ServerConfigException("key file " + file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
  }

  /** Signs with the key and verifies with the certificate: works for every key type without parsing it. */
  private static boolean belongsTo(PrivateKey key, X509Certificate cert) {
    String alg = switch (key.getAlgorithm().toUpperCase(Locale.ROOT)) {
      case "EC", "ECDSA" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "ED25519" -> "Ed25519";
      case "ED448" -> "Ed448";
      default -> null;
    };
    if (alg == null) {
      return false;
    }
    try {
      byte[] probe = new byte[32];
      new SecureRandom().nextBytes(probe);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static SSLContext sslContext(PrivateKey key, List<X509Certificate> chain) {
    try {
      char[] password = new char[16];
      SecureRandom random = new SecureRandom();
      for (int i = 0; i < password.length; i++) {
        password[i] = (char) ('a' + random.nextInt(26)); // in-memory key store only; never written
      }
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("server", key, password, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, password);
      Arrays.fill(password, '\0');
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot set up TLS with this certificate and key: " + e.getMessage(), e);
    }
  }
}
