package io.istiovmagent.source;

import io.istiovmagent.util.Modes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The credential sent to the bundle source and the report endpoint: a join token, or the VM's own credential. Its
 * value is never printed: not by toString, not in errors. One that came from {@link Credentials} follows them: after
 * enrolment it is the VM's credential that is sent ({@link #current()}).
 */
public final class BearerToken {
  private static final int MAX_BYTES = 16 * 1024;
  private final String value;
  private final Credentials owner;

  private BearerToken(String value, Credentials owner) {
    this.value = value;
    this.owner = owner;
  }

  static BearerToken of(String value, Credentials owner) {
    return new BearerToken(value, owner);
  }

  BearerToken ownedBy(Credentials c) {
    return new BearerToken(value, c);
  }

  Optional<Credentials> owner() {
    return Optional.ofNullable(owner);
  }

  /** The Authorization header value. */
  public String headerValue() {
    return "Bearer " + value;
  }

  /** What to send now: for a token of {@link Credentials}, the VM's credential once it has one. */
  public BearerToken current() throws SourceConfigException {
    return owner == null ? this : owner.bearer().orElse(this);
  }

  /**
   * The endpoint answered 401 or 403 to this token: a VM credential is dropped (the VM enrols again when it can).
   * Returns what to tell the operator, a parenthesis to append to the message.
   */
  public String rejected() {
    return owner != null ? owner.rejected(value) : " (the join token may be wrong or expired)";
  }

  /** Only what can go in an HTTP header: printable ASCII, no spaces. */
  static boolean headerSafe(String v) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return false;
      }
    }
    return !v.isEmpty();
  }

  /** Reads a token file that only its owner can read (0600 or stricter); anything else is refused. */
  public static BearerToken readFile(Path file) throws SourceConfigException {
    try {
      if (!Files.isRegularFile(file)) {
        throw new SourceConfigException("token file " + file + " does not exist or is not a regular file");
      }
      // Judge the file that is read: a symlink's own mode is always 0777 on Linux and cannot be changed.
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      Set<PosixFilePermission> open = EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
          PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
          PosixFilePermission.OTHERS_EXECUTE);
      open.retainAll(perms);
      if (!open.isEmpty()) {
        throw new SourceConfigException("token file " + file + " is accessible to other users (mode "
            + Modes.octal(perms) + "); run: chmod 600 " + file);
      }
      byte[] bytes = Files.readAllBytes(file);
      if (bytes.length > MAX_BYTES) {
        throw new SourceConfigException("token file " + file + " is larger than " + MAX_BYTES + " bytes");
      }
      String v = new String(bytes, StandardCharsets.US_ASCII).strip();
      if (v.isEmpty()) {
        throw new SourceConfigException("token file " + file + " is empty");
      }
      if (!headerSafe(v)) {
        throw new SourceConfigException("token file " + file
            + " holds characters that cannot go in an HTTP header (spaces, control or non-ASCII); "
            + "it must hold the token alone");
      }
      return new BearerToken(v, null);
    } catch (IOException e) {
      throw new SourceConfigException("cannot read token file " + file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "BearerToken[redacted]";
  }
}
