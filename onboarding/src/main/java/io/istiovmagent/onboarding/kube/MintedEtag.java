package io.istiovmagent.onboarding.kube;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The ETag of a bundle whose token is minted for each response (docs/protocol.md, "Minted tokens"): the revision of
 * everything but the token, and when the token was issued and expires, {@code "HEX.ISSUED.EXPIRES"} (epoch seconds).
 * A request naming it is answered 304, without minting, while the configuration is unchanged and the token it was
 * served with is younger than its half-life less a margin; from then on it gets a new bundle with a fresh token.
 * The agent fetches at the token's half-life (or sooner), so its conditional refreshes in between cost no token, and
 * the one at half-life brings a fresh one. Stateless: any replica decides the same from the header alone. Pure.
 */
final class MintedEtag {
  private static final Pattern FORM = Pattern.compile("\"([0-9a-f]{64})\\.([0-9]{1,12})\\.([0-9]{1,12})\"");
  private static final Duration MAX_MARGIN = Duration.ofSeconds(60);

  private MintedEtag() {}

  /** {@code configRevision} as {@code sha256:HEX}. */
  static String of(String configRevision, Instant issuedAt, Instant expiresAt) {
    return "\"" + hex(configRevision) + "." + issuedAt.getEpochSecond() + "." + expiresAt.getEpochSecond() + "\"";
  }

  /**
   * The entity tag in {@code ifNoneMatch} (the header's values) that may be answered 304 at {@code now}: of this
   * configuration, and its token before half-life less min(60 s, a tenth of its lifetime), so that an agent fetching
   * at half-life by a clock a little ahead of ours still gets the fresh token it came for.
   */
  static Optional<String> fresh(List<String> ifNoneMatch, String configRevision, Instant now) {
    if (ifNoneMatch == null) {
      return Optional.empty();
    }
    String want = hex(configRevision);
    for (String header : ifNoneMatch) {
      for (String tag : header.split(",")) {
        String t = tag.strip();
        Matcher m = FORM.matcher(t.startsWith("W/") ? t.substring(2) : t);
        if (!m.matches() || !m.group(1).equals(want)) {
          continue;
        }
        long issued = Long.parseLong(m.group(2));
        long expires = Long.parseLong(m.group(3));
        if (expires <= issued) {
          continue;
        }
        long lifetime = expires - issued;
        long margin = Math.min(MAX_MARGIN.getSeconds(), lifetime / 10);
        if (now.getEpochSecond() < issued + lifetime / 2 - margin) {
          return Optional.of(m.group());
        }
      }
    }
    return Optional.empty();
  }

  private static String hex(String revision) {
    return revision.startsWith("sha256:") ? revision.substring("sha256:".length()) : revision;
  }
}
