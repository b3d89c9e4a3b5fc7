package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The .deb as dpkg and lintian see it: size, control fields, files with their modes, conffiles, lintian's verdict;
 * for each architecture's package.
 */
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {"amd64", "arm64"})
class DebPackageIT {
  /** What dpkg-deb says of one package, read once per architecture. */
  private record Inspected(Path deb, Map<String, String> contents, String control) {}

  private static final Map<String, Inspected> inspected = new HashMap<>();

  @Parameter
  String arch;
  private Path deb;
  /** Path ("/usr/bin/istio-vm-agent", "/etc/", ...) to its dpkg-deb -c line: "-rwxr-xr-x root/root". */
  private Map<String, String> contents;
  private String control;

  @BeforeEach
  void inspect() throws Exception {
    Inspected i = inspect(arch);
    deb = i.deb();
    contents = i.contents();
    control = i.control();
  }

  private static synchronized Inspected inspect(String arch) throws Exception {
    Inspected known = inspected.get(arch);
    if (known != null) {
      return known;
    }
    Path deb = BuiltPackage.deb(arch);
    String dpkgDeb = Cmd.require("dpkg-deb", "dpkg");
    Cmd.Result c = Cmd.run(List.of(dpkgDeb, "-c", deb.toString()));
    assertEquals(0, c.code(), c.all());
    Map<String, String> contents = new HashMap<>();
    for (String line : c.out().split("\n")) {
      String[] f = line.split("\\s+", 6);
      String path = f[5].replaceFirst("^\\.", "").replaceFirst(" -> .*", "");
      contents.put(path, f[0] + " " + f[1]);
    }
    Cmd.Result i = Cmd.run(List.of(dpkgDeb, "-f", deb.toString()));
    assertEquals(0, i.code(), i.all());
    Inspected found = new Inspected(deb, Map.copyOf(contents), i.out());
    inspected.put(arch, found);
    return found;
  }

  @Test
  void isAtMost40Megabytes() throws Exception {
    long size = Files.size(deb);
    assertTrue(size <= BuiltPackage.MAX_BYTES, deb + " is " + size + " bytes");
  }

  @Test
  void isAPackageOfItsArchitectureAndThePomsVersionThatDependsOnNoJava() throws Exception {
    assertEquals("istio-vm-agent", field("Package"));
    assertEquals(arch, field("Architecture"));
    assertEquals(BuiltPackage.debianVersion(), field("Version"));
    assertEquals("istio-vm-agent_" + field("Version") + "_" + arch + ".deb", deb.getFileName().toString());
    String depends = field("Depends");
    assertTrue(depends.contains("libc6"), depends);
    for (String relation : List.of(depends, field("Pre-Depends"), field("Recommends"))) {
      assertFalse(relation.matches("(?i).*(java|jre|jdk).*"), "the package brings its own runtime: " + relation);
    }
  }

  @Test
  void declaresTheConfigurationAsItsOnlyConffile() throws Exception {
    Path ctrl = Files.createTempDirectory("ctrl");
    try {
      Cmd.Result x = Cmd.run(List.of(Cmd.require("dpkg-deb", "dpkg"), "-e", deb.toString(), ctrl.toString()));
      assertEquals(0, x.code(), x.all());
      assertEquals("/etc/istio-vm-agent/config.yaml\n", Files.readString(ctrl.resolve("conffiles")));
      for (String script : List.of("postinst", "prerm", "postrm")) {
        assertTrue(Files.isExecutable(ctrl.resolve(script)), script);
        Cmd.Result sh = Cmd.run(List.of("sh", "-n", ctrl.resolve(script).toString()));
        assertEquals(0, sh.code(), script + ": " + sh.all());
      }
    } finally {
      BuiltPackage.deleteTree(ctrl);
    }
  }

  @ParameterizedTest
  @CsvSource({
      "/usr/bin/istio-vm-agent, -rwxr-xr-x",
      "/usr/lib/istio-vm-agent/istio-vm-agent.jar, -rw-r--r--",
      "/usr/lib/istio-vm-agent/runtime/bin/java, -rwxr-xr-x",
      "/usr/lib/istio-vm-agent/runtime/lib/modules, -rw-r--r--",
      "/usr/lib/istio-vm-agent/jna/libjnidispatch.so, -rw-r--r--",
      "/usr/lib/istio-vm-agent/classlist, -rw-r--r--",
      "/usr/lib/istio-vm-agent/generate-cds-archive, -rwxr-xr-x",
      "/etc/istio-vm-agent/config.yaml, -rw-r--r--",
      "/usr/lib/systemd/system/istio-vm-agent.service, -rw-r--r--",
      "/usr/lib/systemd/system/istio.service.d/10-istio-vm-agent.conf, -rw-r--r--",
      "/usr/lib/tmpfiles.d/istio-vm-agent.conf, -rw-r--r--",
      "/usr/share/man/man8/istio-vm-agent.8.gz, -rw-r--r--",
      "/usr/share/doc/istio-vm-agent/copyright, -rw-r--r--",
      "/usr/share/doc/istio-vm-agent/changelog.Debian.gz, -rw-r--r--",
      "/usr/share/doc/istio-vm-agent/examples/cloud-init.yaml, -rw-r--r--",
      "/usr/share/lintian/overrides/istio-vm-agent, -rw-r--r--"})
  void shipsEachFileWithItsModeOwnedByRoot(String path, String mode) {
    assertEquals(mode + " root/root", contents.get(path), path + " in " + contents.keySet().stream().sorted().toList());
  }

  /**
   * The runtime is jlinked for the package's architecture, and JNA's native library is the architecture's: a
   * jlink given no target java.base silently makes the build machine's runtime.
   */
  @Test
  void everyElfFileIsForThePackagesArchitecture() throws Exception {
    Path root = BuiltPackage.unpacked(arch);
    List<String> elves = new ArrayList<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path f : s.toList()) {
        if (BuiltPackage.isElf(f)) {
          assertEquals(arch, BuiltPackage.elfArchitecture(f), root.relativize(f) + " is for another machine");
          elves.add(root.relativize(f).toString());
        }
      }
    }
    for (String expected : List.of("usr/lib/istio-vm-agent/runtime/bin/java",
        "usr/lib/istio-vm-agent/runtime/lib/server/libjvm.so", "usr/lib/istio-vm-agent/jna/libjnidispatch.so")) {
      assertTrue(elves.contains(expected), expected + " in " + elves);
    }
  }

  @Test
  void everyFileIsRootsAndNothingIsWritableByOthersOrSetuid() {
    contents.forEach((path, modeOwner) -> {
      assertTrue(modeOwner.endsWith(" root/root"), path + ": " + modeOwner);
      if (modeOwner.startsWith("l")) {
        return; // a symbolic link's own mode means nothing (jlink links the modules' shared legal notices)
      }
      assertTrue(modeOwner.charAt(8) != 'w' && modeOwner.charAt(5) != 'w', path + ": " + modeOwner);
      assertFalse(modeOwner.substring(0, 10).matches(".*[sStT].*"), path + ": " + modeOwner);
    });
  }

  @ParameterizedTest
  @ValueSource(strings = {"/usr/lib/istio-vm-agent/lib/jna-", "/usr/lib/istio-vm-agent/lib/okhttp-jvm-",
      "/usr/lib/istio-vm-agent/lib/bcprov-jdk18on-", "/usr/lib/istio-vm-agent/lib/picocli-"})
  void shipsTheDependencyJars(String prefix) {
    assertTrue(contents.keySet().stream().anyMatch(p -> p.startsWith(prefix) && p.endsWith(".jar")), prefix);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bcprov-jdk18on-", "bcpkix-jdk18on-", "bcutil-jdk18on-"})
  void bouncyCastleShipsUnsignedWithTheSameClasses(String prefix) throws Exception {
    // A signed jar is verified by the JVM when its first class loads, and what that parsed stays for good (~12 MB
    // of the daemon's memory for these three): build-deb drops the signature, nothing else.
    Path lib = BuiltPackage.unpacked(arch).resolve("usr/lib/istio-vm-agent/lib");
    Path shipped;
    try (Stream<Path> s = Files.list(lib)) {
      shipped = s.filter(p -> p.getFileName().toString().startsWith(prefix)).findFirst().orElseThrow();
    }
    Path original = Path.of("target/lib").resolve(shipped.getFileName());
    Map<String, Long> shippedCrcs = new HashMap<>();
    try (ZipFile z = new ZipFile(shipped.toFile())) {
      for (ZipEntry e : z.stream().toList()) {
        assertFalse(e.getName().matches("(?i)META-INF/[^/]+\\.(SF|RSA|DSA|EC)"), shipped + " still holds " + e);
        shippedCrcs.put(e.getName(), e.getCrc());
      }
    }
    try (JarFile j = new JarFile(shipped.toFile())) {
      assertTrue(j.getManifest().getEntries().isEmpty(), "no per-entry digests left in " + shipped);
      assertTrue(j.getManifest().getMainAttributes().getValue("Bundle-SymbolicName") != null, "main section kept");
    }
    int compared = 0;
    try (ZipFile z = new ZipFile(original.toFile())) {
      assertTrue(z.stream().anyMatch(e -> e.getName().toUpperCase().endsWith(".SF")),
          "the build's own " + original + " is signed (else this test proves nothing)");
      for (ZipEntry e : z.stream().toList()) {
        if (e.getName().equals("META-INF/MANIFEST.MF") || e.getName().matches("(?i)META-INF/[^/]+\\.(SF|RSA|DSA|EC)")) {
          continue; // what build-deb rewrites or drops
        }
        assertEquals(e.getCrc(), shippedCrcs.get(e.getName()), e.getName() + " differs in " + shipped);
        compared++;
      }
    }
    assertTrue(compared > 50, compared + " entries compared");
  }

  /**
   * A VM gets the agent and what it runs on, nothing of the cluster's side: its jars are exactly those the agent's
   * manifest names (not what else target/lib holds from an earlier build), no class of the onboarding service, the
   * sample generator or the test fixtures is in any of them, and the bundled runtime has no jdk.httpserver.
   */
  @Test
  void holdsTheAgentAndItsDependenciesOnly() throws Exception {
    Path home = BuiltPackage.unpacked(arch).resolve("usr/lib/istio-vm-agent");
    List<String> shipped;
    try (Stream<Path> s = Files.list(home.resolve("lib"))) {
      shipped = s.map(p -> "lib/" + p.getFileName()).sorted().toList();
    }
    try (JarFile j = new JarFile(home.resolve("istio-vm-agent.jar").toFile())) {
      assertEquals(Stream.of(j.getManifest().getMainAttributes().getValue("Class-Path").trim().split(" +")).sorted()
          .toList(), shipped, "the package's jars are those on the agent's Class-Path, no more");
    }
    assertTrue(shipped.stream().anyMatch(n -> n.startsWith("lib/istio-vm-core")), shipped.toString());
    for (String name : shipped) {
      assertFalse(name.matches("(?i).*(onboarding|fixtures|kubernetes|fabric8|junit|mockwebserver|okhttp-tls).*"),
          name + " is not the agent's");
    }
    List<String> jars = new ArrayList<>(shipped);
    jars.add("istio-vm-agent.jar");
    int classes = 0;
    for (String jar : jars) {
      try (ZipFile z = new ZipFile(home.resolve(jar).toFile())) {
        for (ZipEntry e : z.stream().toList()) {
          assertFalse(e.getName().matches("io/istiovmagent/(server|onboarding|sample|testing|bench)/.*"),
              jar + " holds " + e.getName());
          classes += e.getName().startsWith("io/istiovmagent/") && e.getName().endsWith(".class") ? 1 : 0;
        }
      }
    }
    assertTrue(classes > 150, classes + " of the agent's classes looked at");
    String release = Files.readString(home.resolve("runtime/release"), StandardCharsets.UTF_8);
    assertTrue(release.contains("MODULES=\"java.base "), release);
    assertFalse(release.contains("jdk.httpserver"), release);
  }

  @Test
  void everyJarOnTheManifestClassPathIsInThePackage() throws Exception {
    // lintian misreads the wrapped Class-Path line (see the override); this is the check it cannot make.
    Path jar = BuiltPackage.unpacked(arch).resolve("usr/lib/istio-vm-agent/istio-vm-agent.jar");
    String classPath;
    try (JarFile j = new JarFile(jar.toFile())) {
      classPath = j.getManifest().getMainAttributes().getValue("Class-Path");
    }
    List<String> entries = List.of(classPath.trim().split(" +"));
    assertTrue(entries.size() >= 10, classPath);
    for (String e : entries) {
      assertTrue(contents.containsKey("/usr/lib/istio-vm-agent/" + e), e + " is on the Class-Path, not in the package");
    }
  }

  @Test
  void theCopyrightFileLicensesTheAgentApache2AndNamesEveryBundledJar() throws Exception {
    Path copyright = BuiltPackage.unpacked(arch).resolve("usr/share/doc/istio-vm-agent/copyright");
    String text = Files.readString(copyright);
    assertTrue(text.startsWith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"));
    assertTrue(Pattern.compile("(?m)^Files: \\*\nCopyright: .*\nLicense: Apache-2.0$").matcher(text).find(), text);
    assertFalse(text.contains("undeclared"), text);
    assertTrue(text.contains("Files: usr/lib/istio-vm-agent/runtime/*\n"), text);
    // A new runtime dependency must come with its own paragraph: Files: * (ours, Apache-2.0) would claim it.
    List<Pattern> theirs = fileGlobs(text).stream().filter(g -> !g.equals("*")).map(DebPackageIT::glob).toList();
    List<String> jars = contents.keySet().stream()
        .filter(f -> f.matches("/usr/lib/istio-vm-agent/lib/.*\\.jar") && !f.contains("/istio-vm-core-")).toList();
    assertTrue(jars.size() >= 10, jars.toString());
    for (String jar : jars) {
      assertTrue(theirs.stream().anyMatch(p -> p.matcher(jar.substring(1)).matches()),
          jar + " ships but packaging/deb/copyright has no Files paragraph naming it and its license");
    }
    try (Stream<Path> legal = Files.list(BuiltPackage.unpacked(arch).resolve("usr/lib/istio-vm-agent/runtime/legal"))) {
      assertTrue(legal.anyMatch(p -> p.getFileName().toString().equals("java.base")), "OpenJDK's notices ship");
    }
  }

  @Test
  void theManPageIsThereAndRendersWithoutWarnings() throws Exception {
    Path man = BuiltPackage.unpacked(arch).resolve("usr/share/man/man8/istio-vm-agent.8.gz");
    try (InputStream in = new GZIPInputStream(Files.newInputStream(man))) {
      String roff = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(roff.startsWith(".TH ISTIO-VM-AGENT 8 "), roff.substring(0, 40));
      assertTrue(roff.contains(".B istio-vm-agent purge"));
    }
    Cmd.Result r = Cmd.run(List.of(Cmd.require("man", "man-db"), "--warnings", "-E", "UTF-8", "-l", "-Tutf8",
        man.toString()), Map.of("MANWIDTH", "80"));
    assertEquals(0, r.code(), r.all());
    assertEquals("", r.err());
    assertTrue(r.out().replaceAll("\\s+", " ").contains("put this virtual machine into an Istio service mesh"),
        r.out());
  }

  @Test
  void lintianReportsNoErrorAndNoWarningAndUsesEveryOverride() throws Exception {
    // The overrides the package ships each carry their reason (packaging/deb/lintian-overrides); those that hold
    // for one architecture only say which, or the other's package reports them unused.
    Cmd.Result r = Cmd.run(List.of(Cmd.require("lintian", "lintian"), "--no-cfg", "--display-info", "--fail-on",
        "error,warning", deb.toString()));
    List<String> findings = r.out().lines().filter(l -> l.matches("^[EW]: .*") || l.contains("unused-override"))
        .toList();
    assertEquals(List.of(), findings, r.all());
    assertEquals(0, r.code(), r.all());
  }

  /** The patterns of every Files field of a DEP-5 file, continuation lines included. */
  private static List<String> fileGlobs(String copyright) {
    List<String> globs = new ArrayList<>();
    Matcher m = Pattern.compile("(?m)^Files:(.*(?:\n[ \t].*)*)").matcher(copyright);
    while (m.find()) {
      globs.addAll(List.of(m.group(1).trim().split("\\s+")));
    }
    return globs;
  }

  /** A DEP-5 glob as a regular expression: '*' is any text, '/' included, and '?' any one character. */
  private static Pattern glob(String glob) {
    return Pattern.compile(Pattern.quote(glob).replace("*", "\\E.*\\Q").replace("?", "\\E.\\Q"));
  }

  private String field(String name) {
    Matcher m = Pattern.compile("(?m)^" + name + ": (.*)$").matcher(control);
    return m.find() ? m.group(1) : "";
  }
}
