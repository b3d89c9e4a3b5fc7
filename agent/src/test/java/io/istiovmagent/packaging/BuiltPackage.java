package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/** The .debs that `mvn package` built into target/, one per architecture, each unpacked once with dpkg-deb -x. */
final class BuiltPackage {
  static final long MAX_BYTES = 40L * 1024 * 1024;
  /** Every architecture the build makes a package for; the first is the build machine's. */
  static final List<String> ARCHITECTURES = List.of("amd64", "arm64");
  private static final Map<String, Path> unpacked = new HashMap<>();

  private BuiltPackage() {}

  /** The one target/istio-vm-agent_VERSION_amd64.deb; the package phase (packaging/deb/build-deb) makes it. */
  static Path deb() throws IOException {
    return deb("amd64");
  }

  /**
   * The one target/istio-vm-agent_VERSION_ARCH.deb. Skips the test (saying so) for arm64 when the build was told
   * not to make it ({@code -Ddeb.arm64.skip}, which failsafe passes on); otherwise a missing package fails.
   */
  static Path deb(String arch) throws IOException {
    assumeFalse(!arch.equals("amd64") && Boolean.getBoolean("deb." + arch + ".skip"),
        "skipped: the " + arch + " package was not built (-Ddeb." + arch + ".skip)");
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(Path.of("target"), "istio-vm-agent_*_" + arch + ".deb")) {
      s.forEach(found::add);
    }
    assertEquals(1, found.size(), "exactly one " + arch + " package in target/ (run mvn package or verify): " + found);
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

  /** The amd64 package's files under a directory of their own, as dpkg-deb -x lays them out (shared by the ITs). */
  static Path unpacked() throws IOException, InterruptedException {
    return unpacked("amd64");
  }

  /** The package of an architecture, unpacked (once, shared by the ITs). */
  static synchronized Path unpacked(String arch) throws IOException, InterruptedException {
    Path dir = unpacked.get(arch);
    if (dir == null) {
      Path deb = deb(arch);
      dir = Files.createTempDirectory("istio-vm-agent-deb-" + arch);
      Path d = dir;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(d)));
      Cmd.Result r = Cmd.run(List.of(Cmd.require("dpkg-deb", "dpkg"), "-x", deb.toString(), dir.toString()));
      assertEquals(0, r.code(), r.all());
      unpacked.put(arch, dir);
    }
    return dir;
  }

  /** The machine an ELF file is for, from its header's e_machine: "amd64", "arm64", or "other (N)". */
  static String elfArchitecture(Path file) throws IOException {
    byte[] header = new byte[20];
    try (InputStream in = Files.newInputStream(file)) {
      assertEquals(20, in.readNBytes(header, 0, 20), file + " is too short for an ELF header");
    }
    int machine = (header[18] & 0xff) | (header[19] & 0xff) << 8;
    return switch (machine) {
      case 0x3e -> "amd64";
      case 0xb7 -> "arm64";
      default -> "other (" + machine + ")";
    };
  }

  /** Whether a file starts with the ELF magic. */
  static boolean isElf(Path file) throws IOException {
    if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.size(file) < 20) {
      return false;
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] magic = in.readNBytes(4);
      return magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
    }
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
