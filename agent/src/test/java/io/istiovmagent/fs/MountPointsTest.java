package io.istiovmagent.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MountPointsTest {
  @Test
  void unescapesTheOctalEscapesOfMountinfo() {
    assertEquals("/mnt/a dir\twith\\odd\nnames", MountPoints.unescape("/mnt/a\\040dir\\011with\\134odd\\012names"));
    assertEquals("/plain", MountPoints.unescape("/plain"));
  }

  @Test
  void theRootIsAMountPointAndAFileInItIsNot() throws Exception {
    assertTrue(MountPoints.contains(Path.of("/")));
    assertFalse(MountPoints.contains(Path.of("/no-such-mount-point-here")));
  }
}
