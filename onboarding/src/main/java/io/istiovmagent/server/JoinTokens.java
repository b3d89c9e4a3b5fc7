package io.istiovmagent.server;

import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import io.istiovmagent.util.Modes;
import io.istiovmagent.util.SafeYaml;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The join tokens the endpoint accepts, from a YAML file re-read whenever it changes. Tokens are kept only as
 * SHA-256 digests and compared in constant time against every entry.
 */
final class JoinTokens {
  static final int MAX_FILE_BYTES = 4 * 1024 * 1024;
  private static final Set<String> KEYS = Set.of("token", "sha256", "namespace", "group", "admin");
  private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");
  private static final Pattern POSITION = Pattern.compile("line \\d+, column \\d+");
  private static final Set<PosixFilePermission> OPEN = Set.of(PosixFilePermission.GROUP_READ,
      PosixFilePermission.OTHERS_READ);

  /** One accepted token: its digest and what it grants. */
  record Entry(byte[] digest, Grant grant, boolean plain) {}

  private record Loaded(FileStamp stamp, List<Entry> entries) {}

  private final Path file;
  private final Log log;
  private volatile Loaded current;
  private FileStamp lastFailure; // guarded by this; a broken file is reported once, not on every request

  private JoinTokens(Path file, Log log, Loaded initial) {
    this.file = file;
    this.log = log;
    this.current = initial;
  }

  /** Reads the token file; the endpoint does not start without a usable one. */
  static JoinTokens load(Path file, Log log) throws ServerConfigException {
    return new JoinTokens(file, log, read(file));
  }

  /** No token file: only credentials kept elsewhere (the cluster's) are accepted. */
  static JoinTokens none(Log log) {
    return new JoinTokens(null, log, new Loaded(null, List.of()));
  }

  int size() {
    return current.entries().size();
  }

  /**
   * The grant of the token in an Authorization header ({@code Bearer TOKEN}), or empty for a missing, malformed or
   * unknown token, or more than one header.
   */
  Optional<Grant> authenticate(List<String> authorization) {
    Loaded tokens = fresh();
    Optional<String> token = bearer(authorization);
    if (token.isEmpty()) {
      return Optional.empty();
    }
    byte[] presented = sha256(token.get());
    Grant found = null;
    // No early exit: the time taken must not say which entry, if any, matched.
    for (Entry e : tokens.entries()) {
      boolean same = MessageDigest.isEqual(e.digest(), presented);
      found = same ? e.grant() : found;
    }
    return Optional.ofNullable(found);
  }

  /** The token of a single {@code Authorization: Bearer TOKEN} header. */
  static Optional<String> bearer(List<String> authorization) {
    if (authorization == null || authorization.size() != 1) {
      return Optional.empty();
    }
    String v = authorization.get(0);
    if (v.length() <= 7 || !v.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.empty();
    }
    String token = v.substring(7).strip();
    return token.isEmpty() ? Optional.empty() : Optional.of(token);
  }

  /** The tokens in force, re-read first when the file changed; a file that fails keeps the previous tokens. */
  private Loaded fresh() {
    Loaded c = current;
    if (file == null) {
      return c;
    }
    FileStamp now;
    try {
      now = FileStamp.of(file, true);
    } catch (IOException e) {
      return c;
    }
    if (now.equals(c.stamp())) {
      return c;
    }
    synchronized (this) {
      if (current != c || now.equals(lastFailure)) {
        return current;
      }
      try {
        current = read(file);
        lastFailure = null;
        log.notice("re-read join tokens from " + file + ": " + current.entries().size() + " tokens");
      } catch (ServerConfigException e) {
        lastFailure = now;
        log.error(e.getMessage() + "; the previous tokens stay in force");
      }
      return current;
    }
  }

  private static Loaded read(Path file) throws ServerConfigException {
    try {
      FileStamp stamp = FileStamp.of(file, true);
      if (!stamp.regularFile()) {
        throw new ServerConfigException("token file " + file + " does not exist or is not a regular file");
      }
      if (stamp.size() > MAX_FILE_BYTES) {
        throw new ServerConfigException("token file " + file + " is larger than " + MAX_FILE_BYTES + " bytes");
      }
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
      List<Entry> entries = parse(file.toString(), text);
      if (entries.stream().anyMatch(Entry::plain) && perms.stream().anyMatch(OPEN::contains)) {
        throw new ServerConfigException("token file " + file + " holds plain tokens and is readable by other users "
            + "(mode " + Modes.octal(perms) + "); run: chmod 600 " + file + ", or list sha256: digests instead");
      }
      return new Loaded(stamp, List.copyOf(entries));
    } catch (IOException e) {
      throw new ServerConfigException("cannot read token file " + file + ": " + e.getMessage(), e);
    }
  }

  /** Parses the token file's text; messages name the entry and key, never a token. */
  static List<Entry> parse(String name, String text) throws ServerConfigException {
    Object doc;
    try {
      doc = SafeYaml.load(text, MAX_FILE_BYTES);
    } catch (SafeYaml.YamlError e) {
      // SnakeYAML quotes the offending line, and that line may hold a token: keep the position only.
      Matcher m = POSITION.matcher(e.getMessage());
      String at = null;
      while (m.find()) {
        at = m.group();
      }
      throw new ServerConfigException(name + ": is not valid YAML" + (at == null ? "" : " (at " + at + ")"));
    }
    String example = "; write e.g. tokens: [{sha256: <hex>, namespace: vm-namespace, group: hello-vm}]";
    if (!(doc instanceof Map<?, ?> root) || !(root.get("tokens") instanceof List<?> list)) {
      throw new ServerConfigException(name + ": needs a 'tokens:' list" + example);
    }
    for (Object k : root.keySet()) {
      if (!"tokens".equals(k)) {
        throw new ServerConfigException(name + ": unknown key '" + Names.printable(String.valueOf(k), 40)
            + "' (only 'tokens' is allowed)");
      }
    }
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      Entry e = entry(name + ": tokens entry " + (i + 1), list.get(i));
      for (int j = 0; j < entries.size(); j++) {
        if (MessageDigest.isEqual(entries.get(j).digest(), e.digest())) {
          throw new ServerConfigException(name + ": tokens entries " + (j + 1) + " and " + (i + 1)
              + " hold the same token; give each workload group (and admin) its own");
        }
      }
      entries.add(e);
    }
    return entries;
  }

  private static Entry entry(String where, Object item) throws ServerConfigException {
    if (!(item instanceof Map<?, ?> m)) {
      throw new ServerConfigException(where + ": must be a mapping with token or sha256, and namespace and group "
          + "(or admin: true)");
    }
    for (Object k : m.keySet()) {
      if (!KEYS.contains(k)) {
        throw new ServerConfigException(where + ": unknown key '" + Names.printable(String.valueOf(k), 40)
            + "'; allowed: token, sha256, namespace, group, admin");
      }
    }
    Object token = m.get("token");
    Object hash = m.get("sha256");
    if ((token == null) == (hash == null)) {
      throw new ServerConfigException(where + ": needs exactly one of 'token' (the token itself) or 'sha256' "
          + "(the hex SHA-256 of the token, e.g. from: printf %s TOKEN | sha256sum)");
    }
    byte[] digest;
    if (token != null) {
      if (!(token instanceof String t) || t.isEmpty() || !headerSafe(t)) {
        throw new ServerConfigException(where + ": 'token' must be a non-empty string of printable ASCII without "
            + "spaces (quote it if YAML would read it as a number)");
      }
      digest = sha256(t);
    } else {
      if (!(hash instanceof String h) || !HEX64.matcher(h).matches()) {
        throw new ServerConfigException(where + ": 'sha256' must be 64 hex digits");
      }
      digest = HexFormat.of().parseHex(h.toLowerCase(java.util.Locale.ROOT));
    }
    return new Entry(digest, grant(where, m), token != null);
  }

  private static Grant grant(String where, Map<?, ?> m) throws ServerConfigException {
    Object admin = m.get("admin");
    Object ns = m.get("namespace");
    Object group = m.get("group");
    if (admin != null && !(admin instanceof Boolean)) {
      throw new ServerConfigException(where + ": 'admin' must be true or false");
    }
    if (Boolean.TRUE.equals(admin)) {
      if (ns != null || group != null) {
        throw new ServerConfigException(where + ": an admin token is for GET /v1/vms only; remove namespace and "
            + "group, or admin");
      }
      return new Grant.Admin();
    }
    if (!(ns instanceof String n) || !Names.isDnsLabel(n) || !(group instanceof String g) || !Names.isDnsLabel(g)) {
      throw new ServerConfigException(where + ": needs 'namespace' and 'group', each a DNS label (lower-case "
          + "letters, digits and '-', at most 63), or admin: true");
    }
    return new Grant.Group(n, g);
  }

  private static boolean headerSafe(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return false;
      }
    }
    return true;
  }

  static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
    }
  }
}
