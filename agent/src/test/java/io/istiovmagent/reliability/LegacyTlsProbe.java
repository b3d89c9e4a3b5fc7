package io.istiovmagent.reliability;

import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.source.BundleSources;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Security;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;

/**
 * Run in its own JVM by {@link TransportTest}, with TLS 1.0 and 1.1 re-enabled in the JDK (this JDK disables them
 * through jdk.tls.disabledAlgorithms, which would refuse an old server before the agent's own settings are even
 * consulted). For each protocol version it starts a server that offers only that version, shows that the JDK itself
 * completes a handshake at that version (so the server really works), then lets the agent's bundle fetch and the
 * report client (both built by {@link HttpsClients}) try it, and counts the HTTP requests that got through. Then the
 * same from the other side: a client offering only an old version against the reference endpoint. Prints one
 * {@code key=value} line per finding.
 */
public final class LegacyTlsProbe {
  private LegacyTlsProbe() {}

  public static void main(String[] args) throws Exception {
    System.out.println("disabled=" + Security.getProperty("jdk.tls.disabledAlgorithms").replace('\n', ' '));
    HeldCertificate ca = TestTls.newCa("legacy TLS probe CA");
    // RSA: TLS 1.0/1.1 have no GCM suites, and the CBC suites a lax OkHttp spec (COMPATIBLE_TLS) would still offer
    // there are ECDHE_RSA ones; with an EC certificate a weakened client would fail on ciphers, not on the version.
    HeldCertificate leaf = new HeldCertificate.Builder().commonName("localhost").addSubjectAlternativeName("localhost")
        .rsa2048().signedBy(ca).build();
    SSLContext serverContext = new HandshakeCertificates.Builder().heldCertificate(leaf, ca.certificate()).build()
        .sslContext();
    Path dir = Files.createTempDirectory("legacy-tls");
    try {
      Path caFile = TestTls.writeCaPem(dir, ca);
      Path token = Files.writeString(dir.resolve("join-token"), "legacy-probe-join-token\n");
      Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
      X509TrustManager trust = TlsTrust.trustManager(Optional.of(caFile));
      for (String protocol : List.of("TLSv1", "TLSv1.1", "TLSv1.2")) {
        try (OneProtocolServer server = new OneProtocolServer(serverContext, protocol)) {
          String url = "https://localhost:" + server.port() + "/v1/bundle/vm-namespace/hello-vm";
          System.out.println(protocol + ".jdk=" + jdkHandshake(trust, server.port(), protocol));
          System.out.println(protocol + ".source=" + fetch(url, caFile, token));
          System.out.println(protocol + ".report=" + report(trust, "https://localhost:" + server.port() + "/v1/health"));
          System.out.println(protocol + ".requests=" + server.requests.get());
        }
      }
      ServerTls tls = ServerTls.selfSigned(Clock.systemUTC(), List.of());
      Path tokens = Files.writeString(dir.resolve("tokens.yaml"), "tokens:\n  - sha256: " + "ab".repeat(32)
          + "\n    admin: true\n");
      Path bundles = Files.createDirectories(dir.resolve("bundles"));
      OnboardingServer endpoint = OnboardingServer.builder()
          .listen(new InetSocketAddress(TestTls.LOOPBACK, 0)).tls(tls).bundles(bundles).tokens(tokens)
          .log(new Log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), false)).build();
      endpoint.start();
      try {
        Path endpointCa = Files.writeString(dir.resolve("endpoint.pem"), tls.certificatePem());
        X509TrustManager endpointTrust = TlsTrust.trustManager(Optional.of(endpointCa));
        for (String protocol : List.of("TLSv1", "TLSv1.1", "TLSv1.2")) {
          System.out.println("serve." + protocol + "=" + jdkHandshake(endpointTrust, endpoint.port(), protocol));
        }
      } finally {
        endpoint.stop();
      }
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** A plain JDK client offering only {@code protocol}: the negotiated version, or why it failed. */
  private static String jdkHandshake(X509TrustManager trust, int port, String protocol) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {trust}, null);
      try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("localhost", port)) {
        s.setEnabledProtocols(new String[] {protocol});
        s.setSoTimeout(5000);
        s.startHandshake();
        return "negotiated " + s.getSession().getProtocol();
      }
    } catch (Exception e) {
      return "failed " + e.getClass().getSimpleName() + ": " + e.getMessage();
    }
  }

  /** The agent's bundle fetch, as `apply` and `run` do it. */
  private static String fetch(String url, Path caFile, Path token) {
    try {
      BundleSources.open(url, new BundleSources.Transport(Optional.of(caFile), Optional.of(token),
          Duration.ofSeconds(5), "legacy-tls-probe", Clock.systemUTC())).fetch();
      return "fetched";
    } catch (SourceException e) {
      return e.kind() + " " + e.getMessage();
    } catch (Exception e) {
      return "failed " + e;
    }
  }

  /** The client health reports go out on (HttpsClients, redirects not followed), as Reporter builds it. */
  private static String report(X509TrustManager trust, String url) {
    try (Response r = HttpsClients.client(trust, Duration.ofSeconds(5), false).newCall(new Request.Builder().url(url)
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build()).execute()) {
      return "HTTP " + r.code();
    } catch (IOException e) {
      return "failed " + e.getClass().getSimpleName() + ": " + e.getMessage();
    }
  }

  /** A TLS server on loopback that offers one protocol version and answers every request 503. */
  static final class OneProtocolServer implements AutoCloseable {
    final AtomicInteger requests = new AtomicInteger();
    private final SSLServerSocket socket;
    private final Thread thread;

    OneProtocolServer(SSLContext context, String protocol) throws IOException {
      socket = (SSLServerSocket) context.getServerSocketFactory().createServerSocket(0, 10, TestTls.LOOPBACK);
      socket.setEnabledProtocols(new String[] {protocol});
      thread = new Thread(this::serve, "one-protocol-server");
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    private void serve() {
      while (!socket.isClosed()) {
        try (SSLSocket s = (SSLSocket) socket.accept()) {
          s.setSoTimeout(5000);
          BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
          String requestLine = in.readLine(); // the handshake happens here
          if (requestLine == null || requestLine.isEmpty()) {
            continue;
          }
          requests.incrementAndGet();
          for (String l = in.readLine(); l != null && !l.isEmpty(); l = in.readLine()) {
            // headers
          }
          OutputStream out = s.getOutputStream();
          out.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
          out.flush();
        } catch (IOException handshakeRefusedOrClosed) {
          // counted by what did not arrive
        }
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
