import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Run by build-deb as {@code java UnsignJar.java JAR...}: rewrites each signed jar without its signature (the
 * META-INF signature files, and the manifest's per-entry digest sections) and leaves the others alone. Every class
 * and resource is copied byte for byte, in the same order, with the same time, so the result is the same for the
 * same input.
 *
 * <p>Why: the JDK verifies a signed jar on the class path when it loads the first class from it, and keeps what it
 * parsed (the signer's certificates, the digests of all entries: 6,700 for bcprov) for as long as the jar is open,
 * that is for the life of the daemon: about 12 MB of resident memory for BouncyCastle's three jars, measured on
 * the daemon. The signature proves nothing the package does not already: dpkg's md5sums and the archive's signature
 * cover these files, and Debian's own BouncyCastle packages (libbcprov-java) are not signed either.
 */
public final class UnsignJar {
  private UnsignJar() {}

  public static void main(String[] args) throws IOException {
    if (args.length == 0) {
      System.err.println("usage: java UnsignJar.java JAR...");
      System.exit(64);
    }
    for (String a : args) {
      Path jar = Path.of(a);
      if (signed(jar)) {
        Path tmp = jar.resolveSibling(jar.getFileName() + ".unsigned");
        unsign(jar, tmp);
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("unsigned " + jar.getFileName());
      }
    }
  }

  static boolean signed(Path jar) throws IOException {
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      return zip.stream().anyMatch(e -> isSignatureFile(e.getName()));
    }
  }

  static void unsign(Path in, Path out) throws IOException {
    try (ZipFile zip = new ZipFile(in.toFile());
        OutputStream file = Files.newOutputStream(out);
        ZipOutputStream z = new ZipOutputStream(file)) {
      Enumeration<? extends ZipEntry> entries = zip.entries();
      while (entries.hasMoreElements()) {
        ZipEntry e = entries.nextElement();
        String name = e.getName();
        if (isSignatureFile(name)) {
          continue;
        }
        ZipEntry copy = new ZipEntry(name);
        copy.setTime(e.getTime());
        z.putNextEntry(copy);
        if (name.equalsIgnoreCase(JarFile.MANIFEST_NAME)) {
          Manifest m;
          try (InputStream s = zip.getInputStream(e)) {
            m = new Manifest(s);
          }
          m.getEntries().clear(); // the per-entry sections hold nothing but digests for the signature
          m.write(z);
        } else if (!e.isDirectory()) {
          try (InputStream s = zip.getInputStream(e)) {
            s.transferTo(z);
          }
        }
        z.closeEntry();
      }
    }
  }

  /** The files jar signing adds under META-INF (JarFile's own rule): *.SF, *.RSA, *.DSA, *.EC, SIG-*. */
  static boolean isSignatureFile(String name) {
    String upper = name.toUpperCase(java.util.Locale.ROOT);
    if (!upper.startsWith("META-INF/") || upper.indexOf('/', "META-INF/".length()) >= 0) {
      return false;
    }
    String file = upper.substring("META-INF/".length());
    return file.endsWith(".SF") || file.endsWith(".RSA") || file.endsWith(".DSA") || file.endsWith(".EC")
        || file.startsWith("SIG-");
  }
}
