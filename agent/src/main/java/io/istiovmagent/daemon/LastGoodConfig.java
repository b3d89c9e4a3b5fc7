package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.Dirs;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * A copy of the last config.yaml that loaded, for a start whose config.yaml does not: the agent then runs on it,
 * as a reload that reads a broken file keeps the configuration in force. It lives in the default state directory
 * because it must be found without a configuration (paths.stateDir is in the file that cannot be read).
 */
final class LastGoodConfig {
  static final String FILE_NAME = "last-good-config.yaml";

  private final Path file;

  LastGoodConfig(RootFs fs) {
    this.file = fs.lexical(AgentConfig.DEFAULT_STATE_DIR).resolve(FILE_NAME);
  }

  Path file() {
    return file;
  }

  /** Keeps {@code text} unless it is what is kept already. */
  void save(String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    try {
      if (java.util.Arrays.equals(Files.readAllBytes(file), bytes)) {
        return;
      }
    } catch (NoSuchFileException e) {
      // first save
    }
    Dirs.ensurePrivate(file.getParent());
    AtomicFile.write(file, bytes, FileOwner.ROOT, PosixFilePermissions.fromString("rw-------"));
  }

  /** The kept configuration; empty when there is none, or when it cannot be read or parsed any more. */
  Optional<AgentConfig> load() {
    try {
      return Files.exists(file) ? Optional.of(ConfigLoader.load(file)) : Optional.empty();
    } catch (ConfigException e) {
      return Optional.empty();
    }
  }
}
