package io.istiovmagent.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import okhttp3.tls.HeldCertificate;

/** The files of a fleet run's service: its certificate from a private CA, secrets, free ports. */
final class BenchFiles {
  private BenchFiles() {}

  /**
   * WORK/ca.pem (the agents trust it), WORK/endpoint.pem and WORK/endpoint-key.pem: a certificate for localhost and
   * 127.0.0.1, which every endpoint of the run presents (P7's replicas share it, as the pods of a Service do).
   */
  static void certificates(Path work) throws IOException {
    HeldCertificate ca = new HeldCertificate.Builder().commonName("fleet bench CA").certificateAuthority(0).build();
    HeldCertificate leaf = new HeldCertificate.Builder().commonName("localhost").addSubjectAlternativeName(
        "localhost").addSubjectAlternativeName("127.0.0.1").duration(2, TimeUnit.DAYS).signedBy(ca).build();
    Files.writeString(work.resolve("ca.pem"), ca.certificatePem());
    Files.writeString(work.resolve("endpoint.pem"), leaf.certificatePem());
    secret(work.resolve("endpoint-key.pem"), leaf.privateKeyPkcs8Pem());
  }

  /** A file only its owner can read (0600). */
  static void secret(Path file, String text) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, text, StandardCharsets.US_ASCII);
  }

  static void atomicWrite(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
  }

  /** A loopback port free now. */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }
}
