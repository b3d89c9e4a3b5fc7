package io.istiovmagent.verify;

import io.istiovmagent.util.Durations;
import java.io.IOException;
import java.io.StringReader;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;

/** One CA certificate from root-cert.pem, as much of it as a person needs to see. */
public record RootCertificate(String subject, Instant notBefore, Instant notAfter) {
  static final Duration EXPIRY_WARNING = Duration.ofDays(30);
  private static final String FILE = "root-cert.pem";

  /** Parses every PEM block; each must be a CA certificate valid now. Records problems; null if there was any. */
  static List<RootCertificate> parse(byte[] bytes, Instant now, Problems problems) {
    String text = problems.text(FILE, bytes);
    if (text == null) {
      return null;
    }
    int before = problems.errorCount();
    List<RootCertificate> out = new ArrayList<>();
    try (PemReader reader = new PemReader(new StringReader(text))) {
      PemObject pem;
      int n = 0;
      while ((pem = reader.readPemObject()) != null) {
        n++;
        String where = FILE + " (certificate " + n + ")";
        if (!pem.getType().equals("CERTIFICATE")) {
          if (pem.getType().contains("PRIVATE KEY")) {
            continue; // reported once for the whole bundle by BundleVerifier
          }
          problems.error(FILE, "cert-pem", "block " + n + " is a '" + pem.getType() + "', expected CERTIFICATE");
          continue;
        }
        X509CertificateHolder cert;
        try {
          cert = new X509CertificateHolder(pem.getContent());
        } catch (IOException | RuntimeException e) {
          problems.error(where, "cert-parse", "is not a valid X.509 certificate");
          continue;
        }
        RootCertificate rc = new RootCertificate(cert.getSubject().toString(), cert.getNotBefore().toInstant(),
            cert.getNotAfter().toInstant());
        String shown = Problems.shown(rc.subject, 160); // the issuer chose the subject: it may hold anything
        BasicConstraints bc;
        try {
          bc = BasicConstraints.fromExtensions(cert.getExtensions());
        } catch (RuntimeException e) {
          bc = null;
        }
        if (bc == null || !bc.isCA()) {
          problems.error(where, "cert-not-ca", "'" + shown + "' is not a CA certificate (basicConstraints "
              + "CA:TRUE missing); root-cert.pem must hold the mesh root CA");
        }
        if (now.isBefore(rc.notBefore)) {
          problems.error(where, "cert-not-yet-valid", "'" + shown + "' is not valid before " + rc.notBefore
              + "; check this machine's clock");
        } else if (!now.isBefore(rc.notAfter)) {
          problems.error(where, "cert-expired", "'" + shown + "' expired on " + rc.notAfter
              + "; fetch a bundle with the mesh's current root certificate");
        } else if (Duration.between(now, rc.notAfter).compareTo(EXPIRY_WARNING) < 0) {
          problems.warn(where, "cert-expiring", "'" + shown + "' expires on " + rc.notAfter + " (in "
              + Durations.human(Duration.between(now, rc.notAfter)) + "); plan the mesh's root rotation");
        }
        out.add(rc);
      }
    } catch (IOException | RuntimeException e) {
      problems.error(FILE, "cert-pem", "is not well-formed PEM (" + firstLine(e.getMessage()) + ")");
      return null;
    }
    if (out.isEmpty() && problems.errorCount() == before) {
      problems.error(FILE, "cert-missing", "holds no PEM certificate");
    }
    return problems.errorCount() == before ? out : null;
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unreadable";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
