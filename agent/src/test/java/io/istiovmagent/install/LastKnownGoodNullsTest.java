package io.istiovmagent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.istiovmagent.testing.TestBundles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** In the last-known-good record, JSON null is the same as a missing field, and never an unchecked exception. */
class LastKnownGoodNullsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  private LastKnownGood saved() throws Exception {
    LastKnownGood lkg = new LastKnownGood(dir);
    lkg.write(TestBundles.raw(TestBundles.valid()), "https://plane.example/v1/bundle", TestBundles.NOW);
    return lkg;
  }

  private void edit(LastKnownGood lkg, Consumer<ObjectNode> change) throws Exception {
    ObjectNode root = (ObjectNode) JSON.readTree(lkg.file().toFile());
    change.accept(root);
    Files.write(lkg.file(), JSON.writeValueAsBytes(root));
  }

  @Test
  void aNullSourceIsAMissingOne() throws Exception {
    LastKnownGood lkg = saved();
    edit(lkg, r -> r.remove("source"));
    String missing = lkg.load().orElseThrow().source();
    edit(lkg, r -> r.putNull("source"));
    assertEquals(missing, lkg.load().orElseThrow().source());
  }

  @Test
  void aNullOrMissingSavedAtIsADamagedRecord() throws Exception {
    LastKnownGood lkg = saved();
    edit(lkg, r -> r.putNull("savedAt"));
    assertThrows(java.io.IOException.class, lkg::load);
    edit(lkg, r -> r.remove("savedAt"));
    assertThrows(java.io.IOException.class, lkg::load);
  }

  @Test
  void aNullFileIsADamagedRecord() throws Exception {
    LastKnownGood lkg = saved();
    edit(lkg, r -> ((ObjectNode) r.get("files")).putNull("istio-token"));
    assertThrows(java.io.IOException.class, lkg::load);
  }
}
