package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.time.Instant;
import java.util.Optional;

/**
 * The last-known-good bundle as it may be restored at start: after a reboot the token in tmpfs is gone, so it is put
 * back before the network is asked. One that cannot be read or no longer verifies is logged and left alone.
 */
record LastGoodRestore(VerifiedBundle bundle, String source, Instant savedAt) {

  static Optional<LastGoodRestore> load(RootFs fs, String stateDir, BundleVerifier verifier, Log log) {
    Optional<LastKnownGood.Record> rec;
    try {
      rec = new LastKnownGood(fs.lexical(stateDir)).load();
    } catch (IOException | RuntimeException e) {
      log.warn("the last-known-good bundle cannot be read and is ignored: " + e.getMessage());
      return Optional.empty();
    }
    if (rec.isEmpty()) {
      log.info("no last-known-good bundle yet (first start)");
      return Optional.empty();
    }
    try {
      VerifiedBundle b = verifier.verifyForRestore(rec.get().bundle());
      for (Problem w : b.warnings()) {
        log.warn("last-known-good: " + w.format());
      }
      return Optional.of(new LastGoodRestore(b, rec.get().source(), rec.get().savedAt()));
    } catch (BadBundleException e) {
      log.error("the last-known-good bundle no longer verifies and is not restored: " + e.getMessage());
      return Optional.empty();
    }
  }
}
