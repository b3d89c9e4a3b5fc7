package io.istiovmagent.source;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Optional;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** Who the agent trusts for HTTPS: the system's CAs plus, optionally, the CAs in one PEM file. Never nobody. */
public final class TlsTrust {
  private TlsTrust() {}

  public static X509TrustManager trustManager(Optional<Path> caFile) throws SourceConfigException {
    try {
      X509TrustManager system = fromKeyStore(null);
      if (caFile.isEmpty()) {
        return system;
      }
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (X509Certificate c : system.getAcceptedIssuers()) {
        ks.setCertificateEntry("system-" + i++, c);
      }
      int added = 0;
      for (Certificate c : readCertificates(caFile.get())) {
        ks.setCertificateEntry("ca-file-" + added++, c);
      }
      return fromKeyStore(ks);
    } catch (GeneralSecurityException | IOException e) {
      throw new SourceConfigException("cannot set up TLS trust: " + e.getMessage(), e);
    }
  }

  private static Collection<? extends Certificate> readCertificates(Path file) throws SourceConfigException {
    if (!Files.isRegularFile(file)) {
      throw new SourceConfigException("CA file " + file + " does not exist or is not a regular file");
    }
    try (InputStream in = Files.newInputStream(file)) {
      Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new SourceConfigException("CA file " + file + " holds no PEM certificate");
      }
      return certs;
    } catch (IOException | GeneralSecurityException e) {
      throw new SourceConfigException("CA file " + file + " is not a PEM certificate file: " + e.getMessage(), e);
    }
  }

  private static X509TrustManager fromKeyStore(KeyStore ks) throws GeneralSecurityException {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        return x;
      }
    }
    throw new GeneralSecurityException("no X509TrustManager available");
  }
}
