package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.report.HostInfo;
import io.istiovmagent.source.Credentials;
import io.istiovmagent.util.Log;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One {@link Credentials} for the bundle fetch and the reporter: what one enrols with, the other presents. Made anew
 * when the join token file or the state directory changes in the configuration.
 */
final class CredentialsKeeper {
  private record Key(Optional<Path> tokenFile, String stateDir) {}

  private final RootFs fs;
  private final Log log;
  private Key key; // guarded by this
  private Credentials current; // guarded by this

  CredentialsKeeper(RootFs fs, Log log) {
    this.fs = fs;
    this.log = log;
  }

  synchronized Credentials of(AgentConfig c) {
    Key k = new Key(c.bundle().tokenFile(), c.paths().stateDir());
    if (!k.equals(key)) {
      current = Credentials.load(k.tokenFile(), fs.lexical(k.stateDir()), () -> HostInfo.read(fs), log);
      key = k;
    }
    return current;
  }
}
