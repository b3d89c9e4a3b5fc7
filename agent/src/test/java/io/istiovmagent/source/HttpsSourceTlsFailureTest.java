package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import okhttp3.HttpUrl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * How a TLS failure is put into words is decided from the exception's type and its causes', never from its message:
 * the wording is the provider's (the JDK's "PKIX path building failed" is one provider's, in one version), and a
 * message may say anything. The real JDK failures are in {@link HttpsSourceTest}.
 */
class HttpsSourceTlsFailureTest {
  private static final String UNTRUSTED = "not signed by a trusted CA";

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of("no path to a trust anchor, in another provider's words",
            handshake("certificate_unknown", new CertificateException("chain rejected",
                new CertPathBuilderException("Unable to construct a valid chain"))), UNTRUSTED),
        Arguments.of("a path that does not validate",
            handshake("bad certificate", new CertPathValidatorException("signature check failed", null, null, -1,
                CertPathValidatorException.BasicReason.INVALID_SIGNATURE)), UNTRUSTED),
        Arguments.of("an algorithm the runtime refuses",
            handshake("bad certificate", new CertPathValidatorException("Algorithm constraints check failed", null,
                null, -1, CertPathValidatorException.BasicReason.ALGORITHM_CONSTRAINED)), "SHA-256 or better"),
        Arguments.of("an expired certificate",
            handshake("bad certificate", new CertificateExpiredException("NotAfter: ...")), "has expired"),
        Arguments.of("a message that names PKIX, a cause that says nothing of a path",
            handshake("PKIX path building failed: whatever", null), "the TLS handshake failed"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failures")
  void classifiesByType(String name, SSLException e, String expected) {
    HttpsSource source = new HttpsSource(HttpUrl.get("https://localhost:8443/v1/bundle/ns/g"), trust(),
        Optional.empty(), Duration.ofSeconds(1), "test", Clock.systemUTC());

    SourceException s = source.tlsFailure(e);

    assertEquals(SourceException.Kind.TLS, s.kind());
    assertTrue(s.getMessage().contains(expected), s.getMessage());
    if (!expected.equals(UNTRUSTED)) {
      assertTrue(!s.getMessage().contains(UNTRUSTED), s.getMessage());
    }
  }

  private static SSLHandshakeException handshake(String message, Throwable cause) {
    SSLHandshakeException e = new SSLHandshakeException(message);
    if (cause != null) {
      e.initCause(cause);
    }
    return e;
  }

  private static javax.net.ssl.X509TrustManager trust() {
    try {
      return TlsTrust.trustManager(Optional.empty());
    } catch (SourceConfigException e) {
      throw new AssertionError(e);
    }
  }
}
