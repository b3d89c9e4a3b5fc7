package io.istiovmagent.server;

import io.istiovmagent.util.FileStamp;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.Principal;
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
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
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
 *
 * <p>Files are watched: when either changes (cert-manager renewing the Secret they are mounted from; kubelet swaps
 * the whole directory), the next handshake at least {@link #RELOAD_CHECK} after the last look reads them again, and
 * new connections get the new certificate. A pair that cannot be used (half written, a key of another certificate,
 * expired) is reported and the one in use stays.
 */
public final class ServerTls {
  /** The protocol versions offered; nothing older than TLS 1.2. */
  static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
  static final Duration GENERATED_LIFETIME = Duration.ofDays(365);
  /** How often the files are looked at, at most: on a handshake, never on a timer. */
  static final Duration RELOAD_CHECK = Duration.ofSeconds(10);

  /** A chain, its key, and the key manager that presents them. */
  private record Identity(List<X509Certificate> chain, X509ExtendedKeyManager keys) {}

  /** Where a PEM identity came from, and how it was when last read. */
  private record Source(Path chainFile, Path keyFile, Clock clock, Consumer<String> events) {}

  private final SSLContext context;
  private final boolean generated;
  private final Source source; // null for a generated certificate
  private volatile Identity identity;
  private volatile List<FileStamp> stamps = List.of();
  private final AtomicReference<Instant> lastCheck = new AtomicReference<>(Instant.MIN);

  private ServerTls(PrivateKey key, List<X509Certificate> chain, boolean generated, Source source) {
    this.generated = generated;
    this.source = source;
    this.identity = identity(key, chain);
    this.context = sslContext(new Reloading());
  }

  /**
   * Reads a certificate chain (leaf first) and its unencrypted private key (PKCS#8, or traditional EC/RSA) from PEM
   * files. Refuses a key that does not belong to the leaf, and a leaf that is not valid now.
   */
  public static ServerTls fromPem(Path chainFile, Path keyFile, Clock clock) throws ServerConfigException {
    return fromPem(chainFile, keyFile, clock, message -> {});
  }

  /** As {@link #fromPem(Path, Path, Clock)}; {@code events} hears of each reload, and of each that failed. */
  public static ServerTls fromPem(Path chainFile, Path keyFile, Clock clock, Consumer<String> events)
      throws ServerConfigException {
    Source source = new Source(chainFile, keyFile, clock, events);
    List<FileStamp> before = stamps(source);
    Loaded l = load(source);
    try {
      ServerTls tls = new ServerTls(l.key(), l.chain(), false, source);
      tls.stamps = before;
      tls.lastCheck.set(clock.instant());
      return tls;
    } catch (IllegalStateException e) {
      throw new ServerConfigException("cannot use " + chainFile + " and " + keyFile + " for TLS: " + e.getMessage(),
          e);
    }
  }

  private record Loaded(PrivateKey key, List<X509Certificate> chain) {}

  private static Loaded load(Source source) throws ServerConfigException {
    Path chainFile = source.chainFile();
    Path keyFile = source.keyFile();
    Clock clock = source.clock();
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
    return new Loaded(key, chain);
  }

  /** Reads the files again if they changed and {@link #RELOAD_CHECK} has passed since the last look. */
  private void maybeReload() {
    if (source == null) {
      return;
    }
    Instant now = source.clock().instant();
    Instant last = lastCheck.get();
    if (now.isBefore(last.plus(RELOAD_CHECK)) && !now.isBefore(last) || !lastCheck.compareAndSet(last, now)) {
      return; // looked at recently, or another handshake is looking now
    }
    List<FileStamp> current;
    try {
      current = stamps(source);
    } catch (ServerConfigException e) {
      return;
    }
    if (current.equals(stamps)) {
      return;
    }
    try {
      Loaded l = load(source);
      identity = identity(l.key(), l.chain());
      source.events().accept("reloaded the TLS certificate from " + source.chainFile() + " (valid until "
          + l.chain().get(0).getNotAfter().toInstant() + ")");
    } catch (ServerConfigException | IllegalStateException e) {
      source.events().accept("cannot reload the TLS certificate: " + e.getMessage() + "; the one in use stays");
    }
    stamps = current; // a broken pair is reported once, and read again when the files change again
  }

  private static List<FileStamp> stamps(Source s) throws ServerConfigException {
    try {
      // Followed: kubelet mounts a Secret's files as links into a directory it swaps whole.
      return List.of(FileStamp.of(s.chainFile(), true), FileStamp.of(s.keyFile(), true));
    } catch (IOException e) {
      throw new ServerConfigException("cannot read " + s.chainFile() + " or " + s.keyFile() + ": " + e.getMessage(),
          e);
    }
  }

  /** Presents the identity in force, looking at the files first. */
  private final class Reloading extends X509ExtendedKeyManager {
    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
      maybeReload();
      return identity.keys().chooseEngineServerAlias(keyType, issuers, engine);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      maybeReload();
      return identity.keys().chooseServerAlias(keyType, issuers, socket);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return identity.keys().getCertificateChain(alias);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return identity.keys().getPrivateKey(alias);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return identity.keys().getServerAliases(keyType, issuers);
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      return null; // a server only
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
      return null;
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
      return new ServerTls(kp.getPrivate(), List.of(cert), true, null);
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

  /** The leaf certificate the endpoint presents now. */
  public X509Certificate certificate() {
    return identity.chain().get(0);
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

  /** The chain and key in a key manager of their own. */
  private static Identity identity(PrivateKey key, List<X509Certificate> chain) {
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
      for (KeyManager km : kmf.getKeyManagers()) {
        if (km instanceof X509ExtendedKeyManager x) {
          return new Identity(List.copyOf(chain), x);
        }
      }
      throw new IllegalStateException("the Java runtime offers no X.509 key manager");
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot set up TLS with this certificate and key: " + e.getMessage(), e);
    }
  }

  private static SSLContext sslContext(X509ExtendedKeyManager keys) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(new KeyManager[] {keys}, null, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
    }
  }
}
