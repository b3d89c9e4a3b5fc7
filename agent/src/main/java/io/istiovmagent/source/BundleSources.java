package io.istiovmagent.source;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import okhttp3.EventListener;
import okhttp3.HttpUrl;

/** Turns a SOURCE as a user writes it (a path, {@code file:} or {@code https://} URL) into a {@link BundleSource}. */
public final class BundleSources {
  /**
   * What an HTTPS source needs beside its URL. The trust and the token file are read only for https sources.
   * {@code events} observes its HTTP calls (the daemon times its first TLS handshake); it only observes.
   */
  public record Transport(TlsTrust.Source trust, Optional<Path> tokenFile, Duration timeout, String userAgent,
      Clock clock, EventListener.Factory events, Optional<Credentials> credentials) {
    public Transport {
      Objects.requireNonNull(trust, "trust == null");
      Objects.requireNonNull(tokenFile, "tokenFile == null");
      Objects.requireNonNull(events, "events == null");
      Objects.requireNonNull(credentials, "credentials == null");
    }

    /**
     * The join token of {@code tokenFile} as it is, no enrolment, and the runtime's CA list plus {@code caFile}: for
     * callers that bring their own CA (tests, probes), not the agent, which trusts by its configuration.
     */
    public Transport(Optional<Path> caFile, Optional<Path> tokenFile, Duration timeout, String userAgent,
        Clock clock, EventListener.Factory events) {
      this(() -> TlsTrust.trustManager(caFile), tokenFile, timeout, userAgent, clock, events, Optional.empty());
    }

    /** As above, observing nothing. */
    public Transport(Optional<Path> caFile, Optional<Path> tokenFile, Duration timeout, String userAgent,
        Clock clock) {
      this(caFile, tokenFile, timeout, userAgent, clock, HttpsClients.NO_EVENTS);
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
          throw new SourceConfigException("file: URL " + redact(s) + " names a host; use file:///absolute/path");
        }
        if (uri.getPath() == null || !uri.getPath().startsWith("/")) {
          throw new SourceConfigException("file: URL " + redact(s) + " needs an absolute path: file:///absolute/path");
        }
        return new LocalSource(Path.of(uri.getPath()));
      } catch (URISyntaxException e) {
        throw new SourceConfigException("file: URL " + redact(s) + " is not a valid URL: " + e.getReason());
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
    Optional<BearerToken> credential = transport.credentials().isPresent() ? transport.credentials().get().bearer()
        : transport.tokenFile().isPresent() ? Optional.of(BearerToken.readFile(transport.tokenFile().get()))
        : Optional.empty();
    return new HttpsSource(url, transport.trust().get(), credential, transport.timeout(),
        transport.userAgent(), transport.clock(), transport.events());
  }

  /**
   * Drops user info, query and fragment from a URL-like string before it goes into a message: a credential put in
   * the URL (a password, a {@code ?token=}) is never printed, as {@link HttpsSource#describe} never prints a query.
   * Errs on the side of hiding: everything up to the last '@' goes (a malformed URL's password may hold '@', '/' or
   * '?' unencoded).
   */
  static String redact(String s) {
    String out = s;
    int scheme = out.indexOf("://");
    int at = out.lastIndexOf('@');
    if (scheme >= 0 && at > scheme) {
      out = out.substring(0, scheme + 3) + "[redacted]@" + out.substring(at + 1);
    }
    int query = indexOfAny(out, '?', '#');
    if (query >= 0) {
      out = out.substring(0, query) + "?[redacted]";
    }
    return out;
  }

  private static int indexOfAny(String s, char a, char b) {
    int i = s.indexOf(a);
    int j = s.indexOf(b);
    return i < 0 ? j : j < 0 ? i : Math.min(i, j);
  }
}
