package io.istiovmagent.systemd;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/** Tells the service manager about the daemon's state (sd_notify(3)); a no-op when not started by systemd. */
public interface Notifier {
  /** Whether NOTIFY_SOCKET was set, so messages go somewhere. */
  boolean enabled();

  /**
   * Sends newline-separated assignments ("READY=1\nSTATUS=...") as one datagram. Never throws: the daemon must keep
   * running when systemd's socket is gone. Returns false when the message was not delivered, with the reason in
   * {@link #lastError()}; the no-op notifier always returns true.
   */
  boolean send(String state);

  /** Why the most recent send failed; empty after a successful send, and always for the no-op notifier. */
  Optional<String> lastError();

  /**
   * The errno of the most recent send when a system call failed (ECONNREFUSED: nothing listens; ENOENT: no socket
   * there); empty after a success and for failures that are not a system call's.
   */
  default OptionalInt lastErrno() {
    return OptionalInt.empty();
  }

  /** The real notifier when NOTIFY_SOCKET is set and not empty, else the no-op one. Never throws on bad values. */
  static Notifier fromEnvironment(Map<String, String> env) {
    Objects.requireNonNull(env, "env == null");
    String socket = env.get("NOTIFY_SOCKET");
    if (socket == null || socket.isEmpty()) {
      return noop();
    }
    return new SdNotifier(socket);
  }

  /** A notifier that sends nothing, for running without systemd. */
  static Notifier noop() {
    return NoopNotifier.INSTANCE;
  }
}
