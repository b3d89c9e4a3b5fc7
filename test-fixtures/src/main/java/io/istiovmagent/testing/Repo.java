package io.istiovmagent.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The repository's top level, for tests that read what sits outside their module (systemd/, packaging/, docs/,
 * agent/config.yaml): found by walking up from the working directory (a module's, under Maven) to the directory that
 * holds .ci/run and pom.xml, so that a test runs the same from the top, from its module, or from an IDE.
 */
public final class Repo {
  private Repo() {}

  public static Path root() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve(".ci/run")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
        return dir;
      }
    }
    throw new IllegalStateException("no repository (.ci/run and pom.xml) above " + Path.of("").toAbsolutePath());
  }

  /** A path relative to the repository's top level, e.g. {@code path("systemd/istio-vm-agent.service")}. */
  public static Path path(String relative) {
    return root().resolve(relative);
  }
}
