package io.istiovmagent.systemd;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET. It builds its own sockaddr_un rather than
 * reuse SdNotifier's, so a wrong address in the notifier cannot be mirrored here and go unnoticed.
 */
public final class UnixDatagramReceiver implements AutoCloseable {
  private static final int AF_UNIX = 1;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int SOL_SOCKET = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final int MSG_TRUNC = 0x20;
  private static final int MSG_DONTWAIT = 0x40;
  private static final int EAGAIN = 11;
  private static final int CLOCK_MONOTONIC = 1;
  /** How long receive() waits, so a missing message fails the test instead of hanging it. */
  static final int TIMEOUT_SECONDS = 2;

  static {
    Native.register(UnixDatagramReceiver.class, Platform.C_LIBRARY_NAME);
  }

  private static native int socket(int domain, int type, int protocol) throws LastErrorException;

  private static native int bind(int fd, byte[] addr, int addrLen) throws LastErrorException;

  private static native int setsockopt(int fd, int level, int name, byte[] value, int valueLen)
      throws LastErrorException;

  private static native NativeLong recv(int fd, byte[] buf, NativeLong len, int flags) throws LastErrorException;

  private static native int close(int fd) throws LastErrorException;

  private static native int clock_gettime(int clockId, Pointer timespec) throws LastErrorException;

  private final int fd;
  private final String name;
  private boolean closed;

  private UnixDatagramReceiver(int fd, String name) {
    this.fd = fd;
    this.name = name;
  }

  /** Bound to a filesystem path. */
  public static UnixDatagramReceiver atPath(Path path) {
    byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer a = ByteBuffer.allocate(2 + p.length + 1).order(ByteOrder.nativeOrder());
    a.putShort((short) AF_UNIX).put(p).put((byte) 0);
    return bound(a.array(), path.toString());
  }

  /** Bound to an abstract name given as NOTIFY_SOCKET spells it, "@name". */
  public static UnixDatagramReceiver atAbstractName(String atName) {
    if (!atName.startsWith("@")) {
      throw new IllegalArgumentException("abstract names are written @name: " + atName);
    }
    byte[] n = atName.substring(1).getBytes(StandardCharsets.UTF_8);
    // The kernel takes every byte up to addrLen as the name: a leading NUL, then the name, and no terminator.
    ByteBuffer a = ByteBuffer.allocate(2 + 1 + n.length).order(ByteOrder.nativeOrder());
    a.putShort((short) AF_UNIX).put((byte) 0).put(n);
    return bound(a.array(), atName);
  }

  private static UnixDatagramReceiver bound(byte[] sockaddr, String name) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    try {
      bind(fd, sockaddr, sockaddr.length);
      ByteBuffer timeval = ByteBuffer.allocate(2 * NativeLong.SIZE).order(ByteOrder.nativeOrder());
      if (NativeLong.SIZE == 8) {
        timeval.putLong(TIMEOUT_SECONDS).putLong(0);
      } else {
        timeval.putInt(TIMEOUT_SECONDS).putInt(0);
      }
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval.array(), timeval.capacity());
      return new UnixDatagramReceiver(fd, name);
    } catch (LastErrorException e) {
      close(fd);
      throw new IllegalStateException("cannot bind test socket " + name + ": " + e.getMessage(), e);
    }
  }

  /** The next datagram, whole; fails if none arrives within TIMEOUT_SECONDS or if it was cut. */
  public String receive() {
    return receive(0).orElseThrow(() -> new AssertionError("no datagram at " + name + " within "
        + TIMEOUT_SECONDS + " s"));
  }

  /**
   * A datagram already queued, if any. A unix datagram is in the receiver's queue when sendto() returns, so this
   * proves "nothing was delivered" without waiting.
   */
  public Optional<String> poll() {
    return receive(MSG_DONTWAIT);
  }

  private Optional<String> receive(int flags) {
    byte[] buf = new byte[64 * 1024];
    long n;
    try {
      // MSG_TRUNC makes recv return the datagram's real length, so a cut message is seen as such.
      n = recv(fd, buf, new NativeLong(buf.length), flags | MSG_TRUNC).longValue();
    } catch (LastErrorException e) {
      if (e.getErrorCode() == EAGAIN) {
        return Optional.empty();
      }
      throw e;
    }
    if (n > buf.length) {
      throw new AssertionError("datagram of " + n + " bytes does not fit the test buffer");
    }
    return Optional.of(new String(buf, 0, (int) n, StandardCharsets.UTF_8));
  }

  /** CLOCK_MONOTONIC in microseconds, read independently of the code under test. */
  static long monotonicMicros() {
    try (Memory ts = new Memory(2L * NativeLong.SIZE)) {
      clock_gettime(CLOCK_MONOTONIC, ts);
      return ts.getNativeLong(0).longValue() * 1_000_000L + ts.getNativeLong(NativeLong.SIZE).longValue() / 1_000L;
    }
  }

  /** Idempotent: a second close must not close a descriptor number that was reused meanwhile. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      close(fd);
    }
  }
}
