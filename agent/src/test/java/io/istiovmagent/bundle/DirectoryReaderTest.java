package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
    RawBundle fromTar = TarGzReader.read(TarGzWriter.write(fromDir.files()));
    assertEquals(fromDir.revision(), fromTar.revision());
  }

  // Refusals (links, special files, subdirectories, unknown and oversized files) are the hostile-input corpus
  // (src/test/resources/hostile/directory), run through `apply` by reliability.HostileInputTest.
}
