package io.istiovmagent.source;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Who the agent trusts for HTTPS (docs/configuration.md, bundle.trust): the VM's own trust store, the bundle that
 * Debian's update-ca-certificates writes (with a company CA from /usr/local/share/ca-certificates in it), plus the
 * CAs of bundle.caFile; or bundle.caFile alone. Never nobody, and never anybody: a store that cannot be read is an
 * error, not an empty or a default list.
 */
public final class TlsTrust {
  /** Debian's and Ubuntu's bundle of the CAs update-ca-certificates enabled; a system path, under --root. */
  public static final String SYSTEM_STORE = "/etc/ssl/certs/ca-certificates.crt";
  /** Debian's store is ~200 KB; anything near this is not a CA bundle. */
  static final int MAX_STORE_BYTES = 16 * 1024 * 1024;

  private TlsTrust() {}

  /** How an HTTPS client gets its trust when it needs it: a local source never reads a CA at all. */
  @FunctionalInterface
  public interface Source {
    X509TrustManager get() throws SourceConfigException;
  }

  /** The trust as configured: whether the system store counts, caFile, and the root the store lies under. */
  public record Spec(AgentConfig.Trust mode, Optional<Path> caFile, RootFs fs) {
    public Spec {
      Objects.requireNonNull(mode, "mode == null");
      Objects.requireNonNull(caFile, "caFile == null");
      Objects.requireNonNull(fs, "fs == null");
    }

    public static Spec of(AgentConfig.Bundle bundle, RootFs fs) {
      return new Spec(bundle.trust(), bundle.caFile(), fs);
    }

    /** The same trust with another CA file (--ca-file overrides bundle.caFile). */
    public Spec withCaFile(Optional<Path> file) {
      return new Spec(mode, file, fs);
    }

    /** A {@link Source} that reads the files each time it is asked. */
    public Source source() {
      return () -> load(this).manager();
    }
  }

  /**
   * A trust read from its files: the manager, what it is made of (for the log and status, no certificate in it),
   * and a notice to log once (the store is absent: the runtime's list stands in).
   */
  public record Loaded(X509TrustManager manager, String summary, Optional<String> notice) {}

  /**
   * What a trust is made of, said the way the log and status say it. Pure: {@code storePresent} is whether
   * {@link #SYSTEM_STORE} exists under the root (it does not count with {@code caFile} only).
   */
  public static String describe(AgentConfig.Trust mode, boolean storePresent, Optional<Path> caFile) {
    String ca = caFile.map(f -> "bundle.caFile " + f).orElse("");
    if (mode == AgentConfig.Trust.CA_FILE_ONLY) {
      return ca + " only (bundle.trust: caFile)";
    }
    String base = storePresent ? "the system store " + SYSTEM_STORE
        : "the agent's runtime's own CA list (no " + SYSTEM_STORE + ")";
    return base + (ca.isEmpty() ? "" : " + " + ca);
  }

  /** Reads the trust {@code spec} describes: the system store under its root and caFile, each named in an error. */
  public static Loaded load(Spec spec) throws SourceConfigException {
    List<Certificate> pinned = new ArrayList<>();
    if (spec.caFile().isPresent()) {
      pinned.addAll(readCaFile(spec.caFile().get()));
    }
    if (spec.mode() == AgentConfig.Trust.CA_FILE_ONLY) {
      if (pinned.isEmpty()) {
        // The configuration refuses this; a caller that builds a Spec by hand gets the same answer.
        throw new SourceConfigException("bundle.trust: caFile trusts bundle.caFile alone, and no CA file is set");
      }
      return new Loaded(build(List.of(), pinned), describe(spec.mode(), false, spec.caFile()), Optional.empty());
    }
    Optional<byte[]> store = readStore(spec.fs());
    List<Certificate> system = new ArrayList<>();
    Optional<String> notice = Optional.empty();
    if (store.isPresent()) {
      system.addAll(parseStore(store.get()));
    } else {
      system.addAll(List.of(runtimeDefault().getAcceptedIssuers()));
      notice = Optional.of("no " + SYSTEM_STORE + " (is the ca-certificates package installed?): HTTPS trusts the "
          + "agent's runtime's own CA list instead, which holds no CA added with update-ca-certificates");
    }
    return new Loaded(build(system, pinned), describe(spec.mode(), store.isPresent(), spec.caFile()), notice);
  }

  /**
   * The runtime's own CA list plus, optionally, the CAs in one PEM file: what {@code system+caFile} falls back to on
   * a VM without a system store. For callers that bring their own CA (tests, probes); the agent goes by a
   * {@link Spec}.
   */
  public static X509TrustManager trustManager(Optional<Path> caFile) throws SourceConfigException {
    if (caFile.isEmpty()) {
      return runtimeDefault();
    }
    List<Certificate> runtime = List.of(runtimeDefault().getAcceptedIssuers());
    return build(runtime, List.copyOf(readCaFile(caFile.get())));
  }

  private static X509TrustManager runtimeDefault() throws SourceConfigException {
    try {
      return fromKeyStore(null);
    } catch (GeneralSecurityException e) {
      throw new SourceConfigException("cannot set up TLS trust: " + e.getMessage(), e);
    }
  }

  private static X509TrustManager build(List<Certificate> system, List<Certificate> caFile)
      throws SourceConfigException {
    try {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (Certificate c : system) {
        ks.setCertificateEntry("system-" + i++, c);
      }
      int added = 0;
      for (Certificate c : caFile) {
        ks.setCertificateEntry("ca-file-" + added++, c);
      }
      return fromKeyStore(ks);
    } catch (GeneralSecurityException | IOException e) {
      throw new SourceConfigException("cannot set up TLS trust: " + e.getMessage(), e);
    }
  }

  private static Optional<byte[]> readStore(RootFs fs) throws SourceConfigException {
    try {
      return fs.readTrusted(SYSTEM_STORE, MAX_STORE_BYTES);
    } catch (IOException e) {
      throw new SourceConfigException("cannot read the system trust store " + SYSTEM_STORE + ": " + e.getMessage()
          + "; the agent does not fall back to trusting nobody, or the runtime's list, in its place. Fix the file (as "
          + "root: update-ca-certificates --fresh), or set bundle.trust: caFile to trust bundle.caFile alone", e);
    }
  }

  private static Collection<? extends Certificate> parseStore(byte[] bytes) throws SourceConfigException {
    Collection<? extends Certificate> certs;
    try {
      certs = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes));
    } catch (GeneralSecurityException e) {
      throw new SourceConfigException("the system trust store " + SYSTEM_STORE + " is not a PEM bundle of "
          + "certificates (" + e.getMessage() + "); regenerate it as root with update-ca-certificates --fresh", e);
    }
    if (certs.isEmpty()) {
      throw new SourceConfigException("the system trust store " + SYSTEM_STORE + " holds no certificate: the agent "
          + "would trust no server; regenerate it as root with update-ca-certificates --fresh, or set "
          + "bundle.trust: caFile to trust bundle.caFile alone");
    }
    return certs;
  }

  private static Collection<? extends Certificate> readCaFile(Path file) throws SourceConfigException {
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
