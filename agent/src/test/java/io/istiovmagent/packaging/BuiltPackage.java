package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

/** The .deb that `mvn package` built into target/, and one copy of it unpacked with dpkg-deb -x. */
final class BuiltPackage {
  static final long MAX_BYTES = 40L * 1024 * 1024;
  private static Path unpacked;

  private BuiltPackage() {}

  /** The one target/istio-vm-agent_VERSION_amd64.deb; the package phase (packaging/deb/build-deb) makes it. */
  static Path deb() throws IOException {
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(Path.of("target"), "istio-vm-agent_*_amd64.deb")) {
      s.forEach(found::add);
    }
    assertEquals(1, found.size(), "exactly one package in target/ (run mvn package or verify): " + found);
    return found.get(0);
  }

  /** The version the package must carry: the pom's, with -SNAPSHOT as ~SNAPSHOT (sorts before the release), -1. */
  static String debianVersion() throws IOException {
    Properties p = new Properties();
    try (InputStream in = BuiltPackage.class.getResourceAsStream("/io/istiovmagent/version.properties")) {
      p.load(in);
    }
    return p.getProperty("version").replace("-SNAPSHOT", "~SNAPSHOT") + "-1";
  }

  /** The package's files under a directory of their own, as dpkg-deb -x lays them out (shared by the ITs). */
  static synchronized Path unpacked() throws IOException, InterruptedException {
    if (unpacked == null) {
      Path dir = Files.createTempDirectory("istio-vm-agent-deb");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
      Cmd.Result r = Cmd.run(List.of(Cmd.require("dpkg-deb", "dpkg"), "-x", deb().toString(), dir.toString()));
      assertEquals(0, r.code(), r.all());
      unpacked = dir;
    }
    return unpacked;
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
