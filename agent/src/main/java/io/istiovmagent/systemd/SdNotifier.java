package io.istiovmagent.systemd;

import com.sun.jna.LastErrorException;
import com.sun.jna.NativeLong;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/** The sd_notify(3) protocol: one AF_UNIX datagram per message to the socket named by NOTIFY_SOCKET. */
final class SdNotifier implements Notifier {
  /** sizeof(sockaddr_un.sun_path) on Linux. */
  static final int SUN_PATH_MAX = 108;
  /** offsetof(struct sockaddr_un, sun_path): the 2-byte sa_family_t before it. */
  private static final int SUN_PATH_OFFSET = 2;
  // systemd reads notifications into a PIPE_BUF buffer and drops a longer one, which the sender cannot see.
  static final int MAX_PAYLOAD_BYTES = 4096;

  private final String socketName;
  private final byte[] address;
  private final String addressError;
  private volatile String lastError;
  /** The failed system call's errno, 0 when the last send did not fail in one. */
  private volatile int lastErrno;

  SdNotifier(String socketName) {
    this.socketName = Objects.requireNonNull(socketName, "socketName == null");
    byte[] a = null;
    String error = null;
    try {
      a = sockaddr(socketName);
    } catch (IllegalArgumentException e) {
      // Kept for send(): a bad NOTIFY_SOCKET must not stop the daemon, only be reported.
      error = e.getMessage();
    }
    this.address = a;
    this.addressError = error;
  }

  @Override
  public boolean enabled() {
    return true;
  }

  @Override
  public boolean send(String state) {
    if (state == null || state.isEmpty()) {
      return fail("nothing to notify systemd of: the message is empty");
    }
    if (state.indexOf('\0') >= 0) {
      return fail("notification not sent: it contains a NUL byte, and systemd ignores such messages whole");
    }
    if (address == null) {
      return fail(addressError);
    }
    byte[] payload = state.getBytes(StandardCharsets.UTF_8);
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return fail("notification of " + payload.length + " bytes not sent: systemd ignores messages over "
          + MAX_PAYLOAD_BYTES + " bytes");
    }
    int fd = -1;
    try {
      fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
      long sent = sendRetryingOnInterrupt(fd, payload);
      if (sent != payload.length) {
        // Datagrams go whole or not at all; this guards against a broken binding, not the kernel.
        return fail("cannot notify systemd at NOTIFY_SOCKET=" + socketName + ": sent " + sent + " of "
            + payload.length + " bytes");
      }
      lastError = null;
      lastErrno = 0;
      return true;
    } catch (LastErrorException e) {
      boolean r = fail("cannot notify systemd at NOTIFY_SOCKET=" + socketName + ": " + e.getMessage() + hint(e));
      lastErrno = e.getErrorCode();
      return r;
    } catch (RuntimeException | LinkageError e) {
      // JNA's native part may fail to load (e.g. a noexec temporary directory); that must not kill the daemon.
      return fail("cannot notify systemd at NOTIFY_SOCKET=" + socketName + ": native call failed: " + e);
    } finally {
      if (fd >= 0) {
        try {
          LibC.close(fd);
        } catch (LastErrorException ignored) {
          // The datagram is already sent or not; a failed close of a datagram socket changes nothing.
        }
      }
    }
  }

  private long sendRetryingOnInterrupt(int fd, byte[] payload) {
    while (true) {
      try {
        return LibC.sendto(fd, payload, new NativeLong(payload.length), LibC.MSG_NOSIGNAL, address, address.length)
            .longValue();
      } catch (LastErrorException e) {
        if (e.getErrorCode() != LibC.EINTR) {
          throw e;
        }
      }
    }
  }

  private static String hint(LastErrorException e) {
    return switch (e.getErrorCode()) {
      case LibC.ENOENT, LibC.ECONNREFUSED ->
          " (nothing listens there: systemd was restarted, or NOTIFY_SOCKET is stale)";
      default -> "";
    };
  }

  private boolean fail(String message) {
    lastError = message;
    lastErrno = 0;
    return false;
  }

  @Override
  public Optional<String> lastError() {
    return Optional.ofNullable(lastError);
  }

  @Override
  public OptionalInt lastErrno() {
    int e = lastErrno;
    return e == 0 ? OptionalInt.empty() : OptionalInt.of(e);
  }

  /**
   * The sockaddr_un for NOTIFY_SOCKET, exactly as long as the address length to pass: a path ends with its NUL;
   * an abstract name ("@name", sent as "\0name") does not, because every byte up to the length is part of the name.
   */
  static byte[] sockaddr(String socketName) {
    if (socketName.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("NOTIFY_SOCKET contains a NUL byte; it must be a path or an @name");
    }
    boolean isAbstract = socketName.startsWith("@");
    if (!isAbstract && !socketName.startsWith("/")) {
      throw new IllegalArgumentException("NOTIFY_SOCKET='" + socketName
          + "' is neither an absolute path nor an @abstract name; only those forms are supported");
    }
    byte[] name = socketName.getBytes(StandardCharsets.UTF_8);
    // For a path the NUL terminator must fit in sun_path too; an abstract name uses all of it (as systemd does).
    int limit = isAbstract ? SUN_PATH_MAX : SUN_PATH_MAX - 1;
    if (name.length > limit) {
      throw new IllegalArgumentException("NOTIFY_SOCKET is " + name.length + " bytes long; a unix socket "
          + (isAbstract ? "name" : "path") + " fits at most " + limit + " bytes (sun_path is " + SUN_PATH_MAX
          + " bytes)");
    }
    int length = SUN_PATH_OFFSET + name.length + (isAbstract ? 0 : 1);
    ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
    b.putShort((short) LibC.AF_UNIX);
    if (isAbstract) {
      b.put((byte) 0).put(name, 1, name.length - 1);
    } else {
      b.put(name).put((byte) 0);
    }
    return b.array();
  }

  @Override
  public String toString() {
    return "Notifier[NOTIFY_SOCKET=" + socketName + "]";
  }
}
