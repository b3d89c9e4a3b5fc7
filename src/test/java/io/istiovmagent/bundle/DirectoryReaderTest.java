package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.istiovmagent.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryReaderTest {
  @TempDir
  Path dir;

  @BeforeEach
  void writeBundle() throws Exception {
    for (Map.Entry<BundleFile, byte[]> e : TestBundles.valid().entrySet()) {
      Files.write(dir.resolve(e.getKey().fileName()), e.getValue());
    }
  }

  @Test
  void sameRevisionAsTheSameFilesInAnArchive() throws Exception {
    RawBundle fromDir = DirectoryReader.read(dir);
    RawBundle fromTar = TarGzReader.read(io.istiovmagent.sample.TarGzWriter.write(fromDir.files()));
    assertEquals(fromDir.revision(), fromTar.revision());
  }

  @Test
  void refusesSymlinkedFile() throws Exception {
    Files.delete(dir.resolve("hosts"));
    Files.createSymbolicLink(dir.resolve("hosts"), Path.of("/etc/hosts"));
    assertEquals("link", rule());
  }

  @Test
  void refusesSubdirectory() throws Exception {
    Files.createDirectory(dir.resolve("extra"));
    assertEquals("nested-path", rule());
  }

  @Test
  void refusesUnknownFile() throws Exception {
    Files.writeString(dir.resolve("notes.txt"), "hello");
    assertEquals("unknown-file", rule());
  }

  @Test
  void refusesOversizedFile() throws Exception {
    Files.write(dir.resolve("mesh.yaml"), new byte[BundleLimits.MAX_FILE_BYTES + 1]);
    assertEquals("size-limit", rule());
  }

  private String rule() {
    return assertThrows(BadBundleException.class, () -> DirectoryReader.read(dir)).problems().get(0).rule();
  }
}
