package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * packaging/apt/build-repo on the built .deb and a tiny arm64 package, checked with Debian's own verifiers: gpgv
 * on the signatures, and this machine's apt (in a root of its own) over HTTP, which must take the repository signed
 * by the key it trusts and refuse it unsigned, signed by another key, or tampered with.
 */
class AptRepositoryIT {
  private static final String PKG = "istio-vm-agent";
  @TempDir
  static Path work;
  private static Path deb;
  private static Path arm64;
  private static String version;
  private static AptRepository repo;
  private static String key;
  private static StaticHttpServer server;

  @BeforeAll
  static void build() throws Exception {
    deb = BuiltPackage.deb().toAbsolutePath();
    version = BuiltPackage.debianVersion();
    arm64 = AptRepository.tinyPackage(PKG, version, "arm64", Files.createDirectories(work.resolve("arm64")));
    repo = new AptRepository(Files.createDirectories(work.resolve("main")));
    key = repo.newKey("istio-vm-agent test archive");
    long start = System.nanoTime();
    repo.build(List.of(key), deb, arm64);
    System.out.printf("build-repo: %d ms%n", (System.nanoTime() - start) / 1_000_000);
    server = new StaticHttpServer(repo.dir());
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (repo != null) {
      repo.close();
    }
  }

  @Test
  void releaseNamesTheSuiteComponentAndEachArchitectureOfThePackagesGiven() throws Exception {
    Map<String, String> release = fields(Files.readString(repo.dir().resolve("dists/stable/Release")));
    assertEquals("stable", release.get("Suite"));
    assertEquals("main", release.get("Components"));
    assertEquals("amd64 arm64", release.get("Architectures"));
    assertEquals("istio-vm-agent", release.get("Origin"));
    String all = Files.readString(repo.dir().resolve("dists/stable/Release"));
    assertTrue(all.contains("main/binary-arm64/Packages.gz"), all);
    assertTrue(!all.contains("MD5Sum:") && !all.contains("SHA1:") && all.contains("SHA512:"), all);
  }

  @ParameterizedTest
  @ValueSource(strings = {"amd64", "arm64"})
  void eachArchitecturesIndexListsItsPackageInThePool(String arch) throws Exception {
    String index = Files.readString(repo.dir().resolve("dists/stable/main/binary-" + arch + "/Packages"));
    List<Map<String, String>> stanzas = java.util.Arrays.stream(index.strip().split("\n\n"))
        .map(AptRepositoryIT::fields).toList();
    assertEquals(1, stanzas.size(), index);
    Map<String, String> p = stanzas.get(0);
    assertEquals(PKG, p.get("Package"));
    assertEquals(version, p.get("Version"));
    assertEquals(arch, p.get("Architecture"));
    Path file = repo.dir().resolve(p.get("Filename"));
    assertEquals("pool/main/i/istio-vm-agent/" + PKG + "_" + version + "_" + arch + ".deb", p.get("Filename"));
    assertArrayEquals(Files.readAllBytes(arch.equals("amd64") ? deb : arm64), Files.readAllBytes(file));
  }

  @Test
  void gpgvAcceptsBothSignaturesWithTheKeyAndNotWithAnother() throws Exception {
    Path keyring = keyring(repo.publicKey(key), "good");
    Path dists = repo.dir().resolve("dists/stable");
    assertEquals(0, gpgv(keyring, dists.resolve("InRelease")).code());
    assertEquals(0, gpgv(keyring, dists.resolve("Release.gpg"), dists.resolve("Release")).code());
    try (AptRepository other = new AptRepository(Files.createDirectories(work.resolve("other-gpgv")))) {
      Path wrong = keyring(other.publicKey(other.newKey("another archive")), "wrong");
      Cmd.Result r = gpgv(wrong, dists.resolve("InRelease"));
      assertNotEquals(0, r.code(), r.all());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"amd64", "arm64"})
  void aptOverHttpTrustsTheRepositoryAndFetchesThePackageForItsArchitecture(String arch) throws Exception {
    AptClient apt = new AptClient(work.resolve("client-" + arch), arch).source(server.url(), repo.publicKey(key));
    Cmd.Result update = apt.update();
    assertEquals(0, update.code(), update.all());
    assertTrue(!update.all().contains("W:") && !update.all().contains("E:"), update.all());
    assertEquals(version, apt.candidate(PKG));
    assertTrue(server.requests().contains("GET /dists/stable/InRelease"), server.requests().toString());

    Path into = Files.createDirectories(work.resolve("download-" + arch));
    Cmd.Result dl = apt.download(PKG, into);
    assertEquals(0, dl.code(), dl.all());
    assertArrayEquals(Files.readAllBytes(arch.equals("amd64") ? deb : arm64),
        Files.readAllBytes(into.resolve(PKG + "_" + version.replace(":", "%3a") + "_" + arch + ".deb")));
  }

  @Test
  void aptRefusesTheRepositoryWhenItTrustsAnotherKey() throws Exception {
    try (AptRepository other = new AptRepository(Files.createDirectories(work.resolve("other-apt")))) {
      AptClient apt = new AptClient(work.resolve("client-wrong-key"), "amd64")
          .source(server.url(), other.publicKey(other.newKey("another archive")));
      Cmd.Result update = apt.update();
      assertNotEquals(0, update.code(), update.all());
      assertTrue(update.all().contains("NO_PUBKEY") && update.all().contains("is not signed"), update.all());
      assertEquals("(none)", apt.candidate(PKG));
    }
  }

  /** The same repository with its dists/ copied and changed as {@code how} says; the pool is the same. */
  private static Path altered(String name, String how) throws Exception {
    Path copy = Files.createDirectories(work.resolve(name));
    Cmd.Result cp = Cmd.run(List.of("cp", "-a", repo.dir().resolve("dists").toString(), copy.toString()));
    assertEquals(0, cp.code(), cp.all());
    Files.createSymbolicLink(copy.resolve("pool"), repo.dir().resolve("pool"));
    Cmd.Result r = Cmd.run(List.of("sh", "-euc", "cd \"$0\"/dists/stable && " + how, copy.toString()));
    assertEquals(0, r.code(), r.all());
    return copy;
  }

  @ParameterizedTest
  @ValueSource(strings = {
      // The signed text changed (not only in trailing blanks, which a clear signature ignores): a bad signature.
      "sed -i 's/^Description: .*/Description: changed/' InRelease Release",
      // An index changed under a good signature: its hash no longer matches the Release's.
      "printf 'Package: evil\\n' >> main/binary-amd64/Packages && rm main/binary-amd64/Packages.gz",
      // No signature at all.
      "rm InRelease Release.gpg"})
  void aptRefusesATamperedOrUnsignedRepository(String how) throws Exception {
    Path dir = altered("tampered-" + Integer.toHexString(how.hashCode()), how);
    try (StaticHttpServer tampered = new StaticHttpServer(dir)) {
      AptClient apt = new AptClient(work.resolve("client-" + Integer.toHexString(how.hashCode())), "amd64")
          .source(tampered.url(), repo.publicKey(key));
      Cmd.Result update = apt.update();
      assertNotEquals(0, update.code(), update.all());
      assertTrue(update.all().contains("E:"), update.all());
      assertEquals("(none)", apt.candidate(PKG), update.all());
    }
  }

  private static Map<String, String> fields(String stanza) {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    for (String line : stanza.split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith(" ")) {
        m.put(line.substring(0, colon), line.substring(colon + 1).strip());
      }
    }
    return m;
  }

  private static Path keyring(String armored, String name) throws Exception {
    Path asc = Files.writeString(work.resolve(name + ".asc"), armored);
    Path gpg = work.resolve(name + ".gpg");
    Cmd.Result r = Cmd.run(List.of(Cmd.require("gpg", "gnupg"), "--batch", "--yes", "--dearmor", "--output",
        gpg.toString(), asc.toString()));
    assertEquals(0, r.code(), r.all());
    return gpg;
  }

  private static Cmd.Result gpgv(Path keyring, Path... files) throws Exception {
    List<String> argv = new java.util.ArrayList<>(List.of(Cmd.require("gpgv", "gpgv"), "--keyring",
        keyring.toString()));
    for (Path f : files) {
      argv.add(f.toString());
    }
    return Cmd.run(argv);
  }
}
