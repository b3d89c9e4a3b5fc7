package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/**
 * config.yaml for the daemon: read at start and again on every change or SIGHUP. A file that does not load never
 * stops the agent: at start it runs on the last configuration that loaded ({@link LastGoodConfig}), else on the
 * defaults, whose paths find the last-known-good; on a reload the configuration in force stays. Either way the
 * error is kept for the status until a file loads.
 */
final class ConfigKeeper {
  private final Path file;
  private final LastGoodConfig lastGood;
  private final Clock clock;
  private final Log log;
  private FileStamp stamp;
  private AgentStatus.LastError error;

  ConfigKeeper(Path file, RootFs fs, Clock clock, Log log) {
    this.file = file;
    this.lastGood = new LastGoodConfig(fs);
    this.clock = clock;
    this.log = log;
  }

  Path file() {
    return file;
  }

  /** The configuration to start on; never fails. */
  AgentConfig atStart() {
    stamp = FileStamp.orAbsent(file);
    try {
      return loaded();
    } catch (ConfigException e) {
      Optional<AgentConfig> last = lastGood.load();
      error = new AgentStatus.LastError(clock.instant(), "configuration error: " + e.getMessage()
          + (last.isPresent() ? "; running on the last configuration that loaded" : "; running on the defaults")
          + " until it is fixed (the agent picks up the fixed file when it changes, or on SIGHUP)");
      log.error(error.message());
      return last.orElse(AgentConfig.defaults());
    }
  }

  /** Reads the file again: the new configuration, or empty when it does not load (the one in force stays). */
  Optional<AgentConfig> reload() {
    try {
      AgentConfig c = loaded();
      stamp = FileStamp.orAbsent(file);
      return Optional.of(c);
    } catch (ConfigException e) {
      error = new AgentStatus.LastError(clock.instant(), "configuration not reloaded: " + e.getMessage());
      log.error(error.message() + " (the previous configuration stays in force)");
      return Optional.empty();
    }
  }

  /** Whether the file changed since it was last looked at (the change is taken: it is reported once). */
  boolean changed() {
    FileStamp now = FileStamp.orAbsent(file);
    if (Objects.equals(now, stamp)) {
      return false;
    }
    stamp = now;
    return true;
  }

  /** Why the file did not load the last time it was read; null when it did. */
  AgentStatus.LastError error() {
    return error;
  }

  private AgentConfig loaded() throws ConfigException {
    ConfigLoader.Loaded loaded = ConfigLoader.loadWithText(file);
    error = null;
    try {
      lastGood.save(loaded.text());
    } catch (IOException e) {
      log.warn("cannot keep a copy of the configuration in " + lastGood.file() + " (a start with a broken "
          + "config.yaml would run on the defaults): " + e.getMessage());
    }
    return loaded.config();
  }
}
