package io.istiovmagent.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLSocketFactory;
import mockwebserver3.MockWebServer;
import okhttp3.Protocol;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;

/**
 * Throwaway TLS material for tests: a private CA made with {@link HeldCertificate}, server certificates signed by it,
 * and MockWebServers that serve them on the loopback interface only.
 */
public final class TestTls {
  /** Every test server binds here, never to a wildcard or external address. */
  public static final InetAddress LOOPBACK = ipv4Loopback();

  private TestTls() {}

  private static InetAddress ipv4Loopback() {
    try {
      return InetAddress.getByAddress("localhost", new byte[] {127, 0, 0, 1});
    } catch (UnknownHostException e) {
      throw new AssertionError("a literal address cannot be unknown", e);
    }
  }

  /** A self-signed CA that may sign leaf certificates (path length 0). */
  public static HeldCertificate newCa(String commonName) {
    return new HeldCertificate.Builder()
        .commonName(commonName)
        .certificateAuthority(0)
        .build();
  }

  /** A server certificate signed by {@code ca}, valid from an hour ago for a day, naming exactly {@code names}. */
  public static HeldCertificate serverCert(HeldCertificate ca, String... names) {
    Instant now = Instant.now();
    return serverCert(ca, now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)), names);
  }

  /** A server certificate signed by {@code ca} with the given validity, naming exactly {@code names}. */
  public static HeldCertificate serverCert(HeldCertificate ca, Instant notBefore, Instant notAfter, String... names) {
    HeldCertificate.Builder b = new HeldCertificate.Builder()
        .commonName(names[0])
        .validityInterval(notBefore.toEpochMilli(), notAfter.toEpochMilli())
        .signedBy(ca);
    for (String n : names) {
      b.addSubjectAlternativeName(n);
    }
    return b.build();
  }

  /** Writes the CA certificate as PEM, the way a user hands it to --ca-file. */
  public static Path writeCaPem(Path dir, HeldCertificate ca) throws IOException {
    Path file = dir.resolve("ca-" + System.nanoTime() + ".pem");
    Files.writeString(file, ca.certificatePem(), StandardCharsets.US_ASCII);
    return file;
  }

  /** The server side of a handshake presenting {@code leaf} and the CA that signed it. */
  public static SSLSocketFactory serverSocketFactory(HeldCertificate leaf, HeldCertificate ca) {
    return new HandshakeCertificates.Builder()
        .heldCertificate(leaf, ca.certificate())
        .build()
        .sslSocketFactory();
  }

  /**
   * A started HTTPS MockWebServer on the loopback interface presenting {@code leaf}, offering {@code protocols}
   * through ALPN (HTTP/2 and HTTP/1.1 by default, so OkHttp picks HTTP/2).
   */
  public static MockWebServer startHttps(HeldCertificate leaf, HeldCertificate ca, Protocol... protocols)
      throws IOException {
    MockWebServer server = new MockWebServer();
    server.useHttps(serverSocketFactory(leaf, ca));
    if (protocols.length > 0) {
      server.setProtocols(List.of(protocols));
    }
    server.start(LOOPBACK, 0);
    return server;
  }

  /** A started plain-HTTP MockWebServer on the loopback interface. */
  public static MockWebServer startPlain() throws IOException {
    MockWebServer server = new MockWebServer();
    server.start(LOOPBACK, 0);
    return server;
  }
}
