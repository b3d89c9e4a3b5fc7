package io.istiovmagent.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.Dirs;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.protocol.ErrorBody;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * The VM's credentials: the join token the operator handed it (bundle.tokenFile), and the credential of its own it
 * got for it by enrolling (docs/protocol.md, POST /v1/enroll), kept in the state directory (0600, never through a
 * link). Once a credential is held the join token is not sent again: it may expire or be revoked without cutting the
 * VM off. A credential the endpoint rejects is dropped, and the VM enrols again if a join token is still at hand. An
 * endpoint that does not enrol (a directory of istioctl output answers 404) gets the join token on every request, as
 * before. Thread-safe: the fetch and the reporter share one.
 */
public final class Credentials {
  public static final String FILE_NAME = "credential";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final int MAX_ANSWER = 16 * 1024;

  private final Optional<Path> joinTokenFile;
  private final Path file;
  private final Supplier<HealthReport.Host> host;
  private final Log log;
  private volatile Optional<String> held;
  private volatile boolean enrolmentUnsupported;
  private final boolean mayEnrol;

  private Credentials(Optional<Path> joinTokenFile, Path file, Supplier<HealthReport.Host> host, Log log,
      Optional<String> held, boolean mayEnrol) {
    this.mayEnrol = mayEnrol;
    this.joinTokenFile = joinTokenFile;
    this.file = file;
    this.host = host;
    this.log = log;
    this.held = held;
  }

  /**
   * The credentials of a VM whose state directory is {@code stateDir} (a host path, already under the root); a
   * credential file that cannot be read is reported and ignored: the VM enrols again.
   */
  public static Credentials load(Optional<Path> joinTokenFile, Path stateDir, Supplier<HealthReport.Host> host,
      Log log) {
    return load(joinTokenFile, stateDir, host, log, true);
  }

  /**
   * For a one-off command (bundle verify, apply): the credential the daemon holds, else the join token; it never
   * enrols (nor drops a credential), which is the daemon's to do.
   */
  public static Credentials readOnly(Optional<Path> joinTokenFile, Path stateDir, Log log) {
    return load(joinTokenFile, stateDir, () -> null, log, false);
  }

  private static Credentials load(Optional<Path> joinTokenFile, Path stateDir, Supplier<HealthReport.Host> host,
      Log log, boolean mayEnrol) {
    Path file = stateDir.resolve(FILE_NAME);
    Optional<String> held = Optional.empty();
    try {
      held = read(file);
    } catch (IOException e) {
      log.warn("ignoring the stored credential: " + e.getMessage() + "; the VM enrols again with its join token");
    }
    return new Credentials(joinTokenFile, file, host, log, held, mayEnrol);
  }

  /** What the state directory holds of the VM's own credential, for {@link #stored}. */
  public sealed interface Stored {
    /** No credential: the VM never enrolled (or its source does not enrol), or a purge removed it. */
    record None() implements Stored {}

    /** The VM's credential; its value is never printed. */
    record Held(BearerToken credential) implements Stored {}

    /** A file is there but cannot be used; {@code reason} says why (never its content). */
    record Unreadable(String reason) implements Stored {}
  }

  /**
   * The VM's own credential in {@code stateDir} (a host path, already under the root), and never the join token:
   * for a command that must speak as the VM itself (deregister). Neither enrols nor drops anything.
   */
  public static Stored stored(Path stateDir) {
    Path file = stateDir.resolve(FILE_NAME);
    try {
      Optional<String> v = read(file);
      return v.isPresent() ? new Stored.Held(BearerToken.of(v.get(), null)) : new Stored.None();
    } catch (AccessDeniedException e) {
      return new Stored.Unreadable("permission denied reading " + file + " (run it as root)");
    } catch (IOException e) {
      return new Stored.Unreadable(e.getMessage());
    }
  }

  /** Whether the VM holds a credential of its own. */
  public boolean enrolled() {
    return held.isPresent();
  }

  /** What to present now: the VM's credential when held, else the join token; empty when there is neither. */
  public Optional<BearerToken> bearer() throws SourceConfigException {
    Optional<String> h = held;
    if (h.isPresent()) {
      return Optional.of(BearerToken.of(h.get(), this));
    }
    return joinTokenFile.isPresent() ? Optional.of(BearerToken.readFile(joinTokenFile.get()).ownedBy(this))
        : Optional.empty();
  }

  /**
   * Before a fetch from {@code bundleUrl} ({@code .../v1/bundle/NS/GROUP}): enrols at {@code .../v1/enroll/NS/GROUP}
   * when no credential is held and a join token is at hand. A 404 means the endpoint does not enrol; the join token
   * is used from then on. Failures are the fetch's failures, with the endpoint's reason.
   */
  void enrolIfNeeded(HttpUrl bundleUrl, OkHttpClient client, String userAgent, Clock clock) throws SourceException {
    if (!mayEnrol || held.isPresent() || enrolmentUnsupported || joinTokenFile.isEmpty()) {
      return;
    }
    List<String> seg = bundleUrl.encodedPathSegments();
    int n = seg.size();
    if (n < 4 || !seg.get(n - 4).equals("v1") || !seg.get(n - 3).equals("bundle")) {
      enrolmentUnsupported = true; // not a protocol v1 bundle URL: nothing to enrol at
      return;
    }
    // .../v1/bundle/NS/GROUP -> .../v1/enroll/NS/GROUP, without the query
    HttpUrl enrol = bundleUrl.resolve("../../enroll/" + seg.get(n - 2) + "/" + seg.get(n - 1));
    if (enrol == null) {
      enrolmentUnsupported = true;
      return;
    }
    BearerToken join;
    try {
      join = BearerToken.readFile(joinTokenFile.get());
    } catch (SourceConfigException e) {
      throw new SourceException(SourceException.Kind.CREDENTIAL_REJECTED, e.getMessage(), null, e);
    }
    HealthReport.Host h = host.get();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("machineId", h.machineId());
    body.put("hostname", h.hostname());
    // So that the service can register the VM (its WorkloadEntry) before its first bundle names it.
    body.put("addresses", h.addresses() == null ? List.of() : h.addresses());
    String where = enrol.host() + ":" + enrol.port();
    try (Response r = client.newCall(new Request.Builder().url(enrol).header("User-Agent", userAgent)
        .header("Authorization", join.headerValue()).header("Accept", "application/json")
        .post(RequestBody.create(JSON.writeValueAsBytes(body), JSON_TYPE)).build()).execute()) {
      byte[] answer = r.body().byteStream().readNBytes(MAX_ANSWER);
      String reason = reason(answer);
      switch (r.code()) {
        case 201 -> {
          store(credentialIn(answer, where));
          log.notice("enrolled with " + where + " as machine " + h.machineId() + "; the join token is not needed "
              + "any more");
        }
        case 401, 403 -> throw new SourceException(SourceException.Kind.CREDENTIAL_REJECTED, "credential "
            + "rejected (HTTP " + r.code() + ") by " + where + " when enrolling" + reason + "; give the VM a valid "
            + "join token (bundle.tokenFile)", null, null);
        case 409 -> throw new SourceException(SourceException.Kind.CREDENTIAL_REJECTED, "enrolment refused (HTTP "
            + "409) by " + where + reason, null, null);
        case 400 -> throw new SourceException(SourceException.Kind.PROTOCOL, "enrolment refused (HTTP 400) by "
            + where + reason, null, null);
        default -> {
          if (r.code() == 429 || r.code() >= 500 && r.code() != 501) {
            throw new SourceException(SourceException.Kind.UNAVAILABLE, where + " cannot enrol now (HTTP "
                + r.code() + ")" + reason, HttpsSource.retryAfter(r.header("Retry-After"), clock).orElse(null),
                null);
          }
          // 404, 405, 501, or anything else but 201: a source that does not enrol (a directory of istioctl output,
          // a plain web server); the join token goes with every request, as before enrolment existed.
          enrolmentUnsupported = true;
          log.info(where + " does not enrol VMs (HTTP " + r.code() + "); the join token is used for every request");
        }
      }
    } catch (InterruptedIOException e) {
      throw new SourceException(SourceException.Kind.UNREACHABLE, "timed out enrolling with " + where, null, e);
    } catch (IOException e) {
      throw new SourceException(SourceException.Kind.UNREACHABLE, "enrolling with " + where + " failed: "
          + e.getMessage(), null, e);
    }
  }

  /**
   * The endpoint rejected {@code presented}. When it is the credential held, it is dropped (revoked, or the service
   * lost it), so that the next fetch enrols again with the join token; says what the operator should do.
   */
  String rejected(String presented) {
    Optional<String> h = held;
    if (!mayEnrol || h.isEmpty() || !h.get().equals(presented)) {
      // The join token was refused, or a credential older than the one now held (an answer that crossed an
      // enrolment): nothing to drop.
      return joinTokenFile.isEmpty() ? " (none is configured: set bundle.tokenFile)"
          : " (the join token may be wrong, expired or revoked)";
    }
    held = Optional.empty();
    try (DirHandle d = RootFs.HOST.openDirectory(file.getParent().toString(), false)) {
      d.delete(FILE_NAME);
    } catch (IOException e) {
      log.warn("cannot remove the rejected credential " + file + ": " + e.getMessage());
    }
    log.warn("the VM's credential was rejected (revoked?); " + (joinTokenFile.isPresent()
        ? "it enrols again with its join token" : "give it a new join token (bundle.tokenFile) to enrol again"));
    return joinTokenFile.isPresent() ? " (the VM's credential was revoked or lost; it enrols again with its join "
        + "token)" : " (the VM's credential was revoked or lost; give it a new join token, bundle.tokenFile)";
  }

  private void store(String credential) throws SourceException {
    try {
      Dirs.ensurePrivate(file.getParent());
      AtomicFile.write(file, (credential + "\n").getBytes(StandardCharsets.US_ASCII), FileOwner.ROOT,
          PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new SourceException(SourceException.Kind.PROTOCOL, "enrolled, but cannot keep the credential in "
          + file + ": " + e.getMessage(), null, e);
    }
    held = Optional.of(credential);
  }

  private static String credentialIn(byte[] answer, String where) throws SourceException {
    try {
      JsonNode root = JSON.readTree(answer);
      String c = root == null ? null : root.path("credential").asText(null);
      if (c != null && BearerToken.headerSafe(c) && c.length() <= 1024) {
        return c;
      }
    } catch (IOException e) {
      // falls through
    }
    throw new SourceException(SourceException.Kind.PROTOCOL, where + " answered the enrolment without a usable "
        + "credential", null, null);
  }

  /** The endpoint's reason ({@link ErrorBody}), one line and short, for the status; or nothing. */
  static String reason(byte[] answer) {
    try {
      return ErrorBody.reasonIn(JSON.readTree(answer)).filter(e -> !e.isBlank())
          .map(e -> e.replaceAll("\\p{Cntrl}", " ").strip())
          .map(line -> ": " + (line.length() > 300 ? line.substring(0, 300) + "..." : line)).orElse("");
    } catch (IOException e) {
      return ""; // not JSON: nothing to add
    }
  }

  /** The stored credential; empty when there is none. Never read through a link. */
  private static Optional<String> read(Path f) throws IOException {
    DirHandle dir;
    try {
      dir = RootFs.HOST.openDirectory(f.getParent().toString(), false);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try (dir) {
      String name = f.getFileName().toString();
      Optional<PosixFileAttributes> a = dir.attributes(name);
      if (a.isEmpty()) {
        return Optional.empty();
      }
      if (!a.get().isRegularFile()) {
        throw new IOException(f + " is not a regular file");
      }
      Optional<byte[]> bytes = dir.readRegular(name, 2048);
      String v = bytes.map(b -> new String(b, StandardCharsets.US_ASCII).strip()).orElse("");
      if (v.isEmpty() || !BearerToken.headerSafe(v)) {
        throw new IOException(f + " does not hold a credential");
      }
      return Optional.of(v);
    }
  }

  @Override
  public String toString() {
    return "Credentials[" + (enrolled() ? "enrolled" : "not enrolled") + "]"; // never a value
  }
}
