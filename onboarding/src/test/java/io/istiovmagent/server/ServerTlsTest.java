package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.TOKEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.ManualClock;
import io.istiovmagent.util.Log;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.TlsVersion;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The endpoint's certificate: generated for loopback, or read from PEM files; what it refuses to start with. */
class ServerTlsTest {
  private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  @TempDir
  Path tmp;

  @Test
  void theGeneratedCertificateIsP256ForLocalhostAndLoopbackForOneYear() throws Exception {
    ServerTls tls = ServerTls.selfSigned(CLOCK, List.of("onboarding.example", "10.0.0.5"));
    X509Certificate c = tls.certificate();

    assertTrue(tls.generated());
    assertEquals("secp256r1", curve(c));
    Set<String> sans = c.getSubjectAlternativeNames().stream().map(l -> l.get(0) + "=" + l.get(1))
        .collect(Collectors.toSet());
    assertEquals(Set.of("2=localhost", "7=127.0.0.1", "2=onboarding.example", "7=10.0.0.5"), sans);
    assertEquals(NOW.minus(Duration.ofHours(1)), c.getNotBefore().toInstant());
    assertEquals(NOW.plus(Duration.ofDays(365)), c.getNotAfter().toInstant());
    assertEquals(List.of("1.3.6.1.5.5.7.3.1"), c.getExtendedKeyUsage(), "serverAuth");
    assertEquals(fingerprint(c), tls.fingerprintSha256());
    assertTrue(tls.fingerprintSha256().matches("([0-9A-F]{2}:){31}[0-9A-F]{2}"));
    assertTrue(tls.certificatePem().startsWith("-----BEGIN CERTIFICATE-----"));
  }

  @Test
  void aClientTrustingTheGeneratedCertificatePemTalksTls13() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp)) {
      HandshakeCertificates trust = new HandshakeCertificates.Builder()
          .addTrustedCertificate((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
              new ByteArrayInputStream(f.server.tls().certificatePem().getBytes(StandardCharsets.US_ASCII))))
          .build();
      OkHttpClient c = f.client.newBuilder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager()).build();
      try (Response r = c.newCall(new Request.Builder().url(f.url("/v1/bundle/vm-namespace/hello-vm"))
          .header("Authorization", "Bearer " + TOKEN).build()).execute()) {
        assertEquals(200, r.code());
        assertEquals(TlsVersion.TLS_1_3, r.handshake().tlsVersion());
      }
    }
  }

  @Test
  void servesAChainAndKeyFromPemFilesInPkcs8AndTraditionalForm() throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).commonName("test CA").build();
    HeldCertificate ec = leaf(ca, NOW, false);
    HeldCertificate rsa = leaf(ca, NOW, true);
    for (String keyPem : new String[] {ec.privateKeyPkcs8Pem(), rsa.privateKeyPkcs1Pem()}) {
      HeldCertificate held = keyPem.contains("RSA PRIVATE KEY") ? rsa : ec;
      Path chain = Files.writeString(tmp.resolve("chain.pem"), held.certificatePem() + ca.certificatePem());
      Path key = Files.writeString(tmp.resolve("key.pem"), keyPem);
      ServerTls tls = ServerTls.fromPem(chain, key, Clock.systemUTC());
      assertEquals(held.certificate(), tls.certificate());
      assertEquals(200, fetchWith(tls, ca));
    }
  }

  /**
   * cert-manager renews the Secret the files are mounted from: new connections get the new certificate within the
   * check period, without a restart; a pair that does not fit is reported and the one in use stays.
   */
  @Test
  void aRenewedCertificateIsServedToNewConnectionsWithoutARestart() throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).commonName("test CA").build();
    Instant now = Instant.now();
    HeldCertificate first = leaf(ca, now, false);
    HeldCertificate renewed = leaf(ca, now, false);
    Path chain = Files.writeString(tmp.resolve("tls.crt"), first.certificatePem());
    Path key = Files.writeString(tmp.resolve("tls.key"), first.privateKeyPkcs8Pem());
    ManualClock clock = new ManualClock(now);
    List<String> events = new CopyOnWriteArrayList<>();
    ServerTls tls = ServerTls.fromPem(chain, key, clock, events::add);
    try (ServerFixture f = ServerFixture.start(tmp.resolve("served"), b -> b.tls(tls))) {
      assertEquals(first.certificate(), presented(f, ca));

      replace(chain, renewed.certificatePem());
      replace(key, renewed.privateKeyPkcs8Pem());
      assertEquals(first.certificate(), presented(f, ca), "looked at no sooner than every 10 s");
      clock.advance(ServerTls.RELOAD_CHECK);
      assertEquals(renewed.certificate(), presented(f, ca));
      assertEquals(renewed.certificate(), tls.certificate());
      assertTrue(events.get(0).startsWith("reloaded the TLS certificate from " + chain), events.toString());

      replace(chain, first.certificatePem()); // the certificate written, its key not yet
      clock.advance(ServerTls.RELOAD_CHECK);
      assertEquals(renewed.certificate(), presented(f, ca));
      assertTrue(events.get(1).startsWith("cannot reload the TLS certificate: the key in " + key
          + " does not belong"), events.toString());
    }
  }

  /** Each time a new client (no session to resume), so the server chooses its certificate again. */
  private static X509Certificate presented(ServerFixture f, HeldCertificate ca) throws Exception {
    HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(ca.certificate()).build();
    javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
    ctx.init(null, new javax.net.ssl.TrustManager[] {trust.trustManager()}, null);
    try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory()
        .createSocket("127.0.0.1", f.server.port())) {
      s.startHandshake();
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }

  /** As kubelet and cert-manager do: the new content appears whole, never half written. */
  private static void replace(Path file, String content) throws Exception {
    Path tmpFile = Files.writeString(file.resolveSibling(file.getFileName() + ".new"), content);
    Files.move(tmpFile, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void refusesAKeyThatIsNotTheCertificates() throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).build();
    Path chain = Files.writeString(tmp.resolve("chain.pem"), leaf(ca, NOW, false).certificatePem());
    Path key = Files.writeString(tmp.resolve("key.pem"), leaf(ca, NOW, false).privateKeyPkcs8Pem());
    ServerConfigException e = assertThrows(ServerConfigException.class, () -> ServerTls.fromPem(chain, key, CLOCK));
    assertTrue(e.getMessage().contains("does not belong to the first certificate"), e.getMessage());
  }

  @Test
  void refusesAnExpiredCertificateAndFilesWithoutPem() throws Exception {
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate old = leaf(ca, NOW.minus(Duration.ofDays(400)), false);
    Path chain = Files.writeString(tmp.resolve("chain.pem"), old.certificatePem());
    Path key = Files.writeString(tmp.resolve("key.pem"), old.privateKeyPkcs8Pem());
    ServerConfigException e = assertThrows(ServerConfigException.class, () -> ServerTls.fromPem(chain, key, CLOCK));
    assertTrue(e.getMessage().contains("expired on") && e.getMessage().endsWith("renew it"), e.getMessage());

    Path empty = Files.writeString(tmp.resolve("empty.pem"), "not pem\n");
    assertTrue(assertThrows(ServerConfigException.class, () -> ServerTls.fromPem(empty, key, CLOCK)).getMessage()
        .contains("holds no PEM certificate"));
    assertTrue(assertThrows(ServerConfigException.class, () -> ServerTls.fromPem(chain, chain, CLOCK)).getMessage()
        .contains("holds no PEM private key"));
  }

  private int fetchWith(ServerTls tls, HeldCertificate ca) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("pem-" + System.nanoTime()));
    Path bundles = Files.createDirectories(dir.resolve("bundles"));
    ServerFixture.writeBundle(bundles.resolve("vm-namespace").resolve("hello-vm"),
        io.istiovmagent.sample.SampleBundle.generate(io.istiovmagent.sample.SampleBundle.Spec.defaults(), NOW));
    Path tokens = Files.writeString(dir.resolve("tokens.yaml"), ServerFixture.TOKENS_YAML);
    Files.setPosixFilePermissions(tokens, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    OnboardingServer server = OnboardingServer.builder()
        .listen(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0)).tls(tls)
        .bundles(bundles).tokens(tokens).log(new Log(new PrintStream(new ByteArrayOutputStream()), false)).build();
    server.start();
    try {
      HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(ca.certificate())
          .build();
      OkHttpClient c = new OkHttpClient.Builder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
          .build();
      try (Response r = c.newCall(new Request.Builder().url(server.url() + "/v1/bundle/vm-namespace/hello-vm")
          .header("Authorization", "Bearer " + TOKEN).build()).execute()) {
        return r.code();
      }
    } finally {
      server.stop();
    }
  }

  private static HeldCertificate leaf(HeldCertificate ca, Instant from, boolean rsa) {
    HeldCertificate.Builder b = new HeldCertificate.Builder().commonName("127.0.0.1")
        .addSubjectAlternativeName("127.0.0.1").addSubjectAlternativeName("localhost")
        .validityInterval(from.minus(Duration.ofHours(1)).toEpochMilli(), from.plus(Duration.ofDays(30)).toEpochMilli())
        .signedBy(ca);
    return (rsa ? b.rsa2048() : b).build();
  }

  /** As openssl x509 -noout -fingerprint -sha256 prints it. */
  static String fingerprint(X509Certificate c) throws Exception {
    return HexFormat.ofDelimiter(":").withUpperCase()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()));
  }

  private static String curve(X509Certificate c) throws Exception {
    AlgorithmParameters p256 = AlgorithmParameters.getInstance("EC");
    p256.init(new ECGenParameterSpec("secp256r1"));
    ECParameterSpec want = p256.getParameterSpec(ECParameterSpec.class);
    ECParameterSpec got = ((ECPublicKey) c.getPublicKey()).getParams();
    return want.getCurve().equals(got.getCurve()) && want.getGenerator().equals(got.getGenerator())
        && want.getOrder().equals(got.getOrder()) ? "secp256r1" : got.toString();
  }
}
