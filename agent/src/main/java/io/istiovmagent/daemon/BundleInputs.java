package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.util.FileStamp;

/**
 * Everything the bundle side is built from: the source, its trust and credential (by their stamp, as for the
 * reporter: a rotated join token, CA file or system trust store is read again), the hosts rules and where the
 * last-known-good lives.
 * Equal inputs build the same bundle side, so a reload that leaves them alone keeps it.
 */
record BundleInputs(AgentConfig.Bundle bundle, AgentConfig.Hosts hosts, String stateDir, FileStamp token,
    FileStamp ca, FileStamp store) {
  static BundleInputs of(AgentConfig c, RootFs fs) {
    return new BundleInputs(c.bundle(), c.hosts(), c.paths().stateDir(), ReporterKeeper.stamp(c.bundle().tokenFile()),
        ReporterKeeper.stamp(c.bundle().caFile()), TrustKeeper.storeStamp(c, fs));
  }
}
