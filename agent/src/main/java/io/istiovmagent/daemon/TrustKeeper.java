package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.X509TrustManager;

/**
 * One TLS trust for the bundle fetch (and enrolment) and the reporter, read at start and read again when what it is
 * read from changed: bundle.trust, bundle.caFile, or the stamp of either file. A reload (SIGHUP, systemctl reload)
 * after update-ca-certificates so trusts the new CA without a restart. What it trusts is logged once per reading,
 * not once per user.
 */
final class TrustKeeper {
  /** Everything a trust is read from; a file by its stamp, so that a rewritten file is read again. */
  record Key(AgentConfig.Trust mode, Optional<Path> caFile, FileStamp ca, FileStamp store) {
    static Key of(AgentConfig c, RootFs fs) {
      return new Key(c.bundle().trust(), c.bundle().caFile(), ReporterKeeper.stamp(c.bundle().caFile()),
          storeStamp(c, fs));
    }
  }

  private final RootFs fs;
  private final Log log;
  private Key key; // guarded by this
  private TlsTrust.Loaded loaded; // guarded by this
  private SourceConfigException failure; // guarded by this

  TrustKeeper(RootFs fs, Log log) {
    this.fs = fs;
    this.log = log;
  }

  /**
   * The stamp of the system store when it counts (followed: a stat only; the reading refuses what it must), so that
   * whoever builds from the trust rebuilds when the store was rewritten; ABSENT when bundle.trust leaves it out.
   */
  static FileStamp storeStamp(AgentConfig c, RootFs fs) {
    if (c.bundle().trust() == AgentConfig.Trust.CA_FILE_ONLY) {
      return FileStamp.ABSENT;
    }
    try {
      return FileStamp.of(fs.lexical(TlsTrust.SYSTEM_STORE), true);
    } catch (IOException e) {
      return FileStamp.ABSENT;
    }
  }

  /** The trust {@code c} asks for; an error (naming the file and what to do) when it cannot be read. */
  synchronized X509TrustManager of(AgentConfig c) throws SourceConfigException {
    Key k = Key.of(c, fs);
    if (!k.equals(key)) {
      key = k;
      loaded = null;
      failure = null;
      try {
        loaded = TlsTrust.load(TlsTrust.Spec.of(c.bundle(), fs));
        log.info("HTTPS trusts " + loaded.summary());
        loaded.notice().ifPresent(log::notice);
      } catch (SourceConfigException e) {
        failure = e; // each user says what it could not do for want of it
      }
    }
    if (failure != null) {
      throw failure;
    }
    return loaded.manager();
  }
}
