package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator does with packaging/apt/build-repo over time, as docs/apt-repository.md tells it: publishing a
 * new version beside the old ones, rotating the signing key with an overlap, and the errors that say what to do.
 * Uses tiny packages made with dpkg-deb (the real .deb's part is AptRepositoryIT's).
 */
class AptRepositoryPublishingIT {
  private static final String PKG = "istio-vm-agent";

  @Test
  void aNewVersionIsAddedBesideTheOldOnesAndAptTakesIt(@TempDir Path work) throws Exception {
    try (AptRepository repo = new AptRepository(work)) {
      String key = repo.newKey("publishing test");
      repo.build(List.of(key), AptRepository.tinyPackage(PKG, "1.0.0-1", "amd64", work));
      Path v2 = AptRepository.tinyPackage(PKG, "1.1.0-1", "amd64", Files.createDirectories(work.resolve("v2")));
      repo.build(List.of(key), v2);

      String index = Files.readString(repo.dir().resolve("dists/stable/main/binary-amd64/Packages"));
      assertTrue(index.contains("Version: 1.0.0-1") && index.contains("Version: 1.1.0-1"), index);
      try (StaticHttpServer server = new StaticHttpServer(repo.dir())) {
        AptClient apt = new AptClient(work.resolve("client"), "amd64").source(server.url(), repo.publicKey(key));
        Cmd.Result update = apt.update();
        assertEquals(0, update.code(), update.all());
        assertEquals("1.1.0-1", apt.candidate(PKG));
      }
    }
  }

  @Test
  void aPublishedVersionNeverChanges(@TempDir Path work) throws Exception {
    try (AptRepository repo = new AptRepository(work)) {
      String key = repo.newKey("publishing test");
      repo.build(List.of(key), AptRepository.tinyPackage(PKG, "1.0.0-1", "amd64", work));
      byte[] release = Files.readAllBytes(repo.dir().resolve("dists/stable/InRelease"));
      // Same name and version, other contents (another maintainer line makes other bytes).
      Path other = Files.createDirectories(work.resolve("other"));
      Path changed = AptRepository.tinyPackage(PKG, "1.0.0-1", "amd64", other);
      Path tree = other.resolve("tiny-" + PKG + "-amd64");
      Files.writeString(tree.resolve("usr/share/doc/" + PKG + "/README"), "other contents\n");
      Cmd.Result rebuilt = Cmd.run(List.of("dpkg-deb", "--root-owner-group", "-b", tree.toString(),
          changed.toString()));
      assertEquals(0, rebuilt.code(), rebuilt.all());

      Cmd.Result r = repo.tryBuild(List.of(key), changed);
      assertNotEquals(0, r.code(), r.all());
      assertTrue(r.err().contains("already published with other contents") && r.err().contains("raise"), r.err());
      assertEquals(new String(release), Files.readString(repo.dir().resolve("dists/stable/InRelease")),
          "a refused run leaves the published indexes as they were");
    }
  }

  @Test
  void duringAKeyRotationClientsTrustingEitherKeyAcceptTheRepository(@TempDir Path work) throws Exception {
    try (AptRepository repo = new AptRepository(work)) {
      String oldKey = repo.newKey("old archive key");
      String newKey = repo.newKey("new archive key");
      repo.build(List.of(oldKey, newKey), AptRepository.tinyPackage(PKG, "1.0.0-1", "amd64", work));
      String published = Files.readString(repo.dir().resolve("istio-vm-agent-archive-keyring.asc"));
      assertEquals(repo.publicKey(oldKey, newKey), published, "the published keyring holds both keys");
      try (StaticHttpServer server = new StaticHttpServer(repo.dir())) {
        for (String trusted : List.of(oldKey, newKey)) {
          AptClient apt = new AptClient(work.resolve("client-" + trusted), "amd64")
              .source(server.url(), repo.publicKey(trusted));
          Cmd.Result update = apt.update();
          assertEquals(0, update.code(), "a client trusting only " + trusted + ":\n" + update.all());
          assertEquals("1.0.0-1", apt.candidate(PKG));
        }
        // The overlap is over: signed by the new key alone, a client that never got the new key refuses it.
        repo.build(List.of(newKey));
        AptClient stale = new AptClient(work.resolve("client-stale"), "amd64")
            .source(server.url(), repo.publicKey(oldKey));
        Cmd.Result update = stale.update();
        assertNotEquals(0, update.code(), update.all());
      }
    }
  }

  @Test
  void withoutAKeyItSaysHowToMakeOne(@TempDir Path work) throws Exception {
    try (AptRepository repo = new AptRepository(work)) {
      Cmd.Result none = repo.tryBuild(List.of(), AptRepository.tinyPackage(PKG, "1.0.0-1", "amd64", work));
      assertNotEquals(0, none.code());
      assertTrue(none.err().contains("no --key") && none.err().contains("gpg --quick-generate-key"), none.err());

      Cmd.Result unknown = repo.tryBuild(List.of("0123456789ABCDEF0123456789ABCDEF01234567"));
      assertNotEquals(0, unknown.code());
      assertTrue(unknown.err().contains("no secret key 0123456789ABCDEF0123456789ABCDEF01234567"), unknown.err());
      assertTrue(!Files.exists(repo.dir().resolve("dists/stable")), "nothing published");
    }
  }
}
