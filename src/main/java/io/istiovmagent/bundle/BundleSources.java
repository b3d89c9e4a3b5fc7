package io.istiovmagent.bundle;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import okhttp3.HttpUrl;

/** Turns a SOURCE as a user writes it (a path, {@code file:} or {@code https://} URL) into a {@link BundleSource}. */
public final class BundleSources {
  /** What an HTTPS source needs beside its URL. The CA and token files are read only for https sources. */
  public record Transport(Optional<Path> caFile, Optional<Path> tokenFile, Duration timeout, String userAgent,
      Clock clock) {
    public Transport {
      Objects.requireNonNull(caFile, "caFile == null");
      Objects.requireNonNull(tokenFile, "tokenFile == null");
    }
  }

  private BundleSources() {}

  public static BundleSource open(String spec, Transport transport) throws SourceConfigException {
    String s = spec.strip();
    if (s.isEmpty()) {
      throw new SourceConfigException("the bundle source is empty; give a directory, a .tar.gz, a file: URL or an "
          + "https:// URL");
    }
    String lower = s.toLowerCase(Locale.ROOT);
    if (lower.startsWith("http://")) {
      throw new SourceConfigException("plain http:// is refused for " + redact(s) + ": the bundle carries the mesh's "
          + "root certificate and a credential, which must not travel unauthenticated; serve it over https:// "
          + "(for a private CA, add --ca-file)");
    }
    if (lower.startsWith("https://")) {
      return https(s, transport);
    }
    if (lower.startsWith("file:")) {
      try {
        URI uri = new URI(s);
        if (uri.getAuthority() != null && !uri.getAuthority().isEmpty() && !uri.getAuthority().equals("localhost")) {
          throw new SourceConfigException("file: URL " + s + " names a host; use file:///absolute/path");
        }
        if (uri.getPath() == null || !uri.getPath().startsWith("/")) {
          throw new SourceConfigException("file: URL " + s + " needs an absolute path: file:///absolute/path");
        }
        return new LocalSource(Path.of(uri.getPath()));
      } catch (URISyntaxException e) {
        throw new SourceConfigException("file: URL " + s + " is not a valid URL: " + e.getReason());
      }
    }
    int colon = s.indexOf("://");
    if (colon > 0) {
      throw new SourceConfigException("unsupported source scheme '" + s.substring(0, colon) + "'; give a "
          + "directory, a .tar.gz, a file: URL or an https:// URL");
    }
    return new LocalSource(Path.of(s));
  }

  private static BundleSource https(String s, Transport transport) throws SourceConfigException {
    HttpUrl url = HttpUrl.parse(s);
    if (url == null) {
      throw new SourceConfigException("'" + redact(s) + "' is not a valid https:// URL");
    }
    if (!url.username().isEmpty() || !url.password().isEmpty()) {
      throw new SourceConfigException("the source URL carries a user name or password; put the credential in "
          + "bundle.tokenFile instead, so it is never printed or stored");
    }
    Optional<BearerToken> credential = transport.tokenFile().isPresent()
        ? Optional.of(BearerToken.readFile(transport.tokenFile().get()))
        : Optional.empty();
    return new HttpsSource(url, TlsTrust.trustManager(transport.caFile()), credential, transport.timeout(),
        transport.userAgent(), transport.clock());
  }

  /** Drops user info from a URL-like string before it goes into a message. */
  static String redact(String s) {
    int scheme = s.indexOf("://");
    int at = s.indexOf('@');
    int slash = scheme < 0 ? -1 : s.indexOf('/', scheme + 3);
    if (scheme >= 0 && at > scheme && (slash < 0 || at < slash)) {
      return s.substring(0, scheme + 3) + "[redacted]@" + s.substring(at + 1);
    }
    return s;
  }
}
