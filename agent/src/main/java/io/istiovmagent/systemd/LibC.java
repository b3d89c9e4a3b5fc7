package io.istiovmagent.systemd;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/** The libc calls sd_notify needs, bound by JNA direct mapping. */
final class LibC {
  // Linux values as on x86 and ARM; MIPS, SPARC and Alpha number some of these differently and are not targets.
  static final int AF_UNIX = 1;
  static final int SOCK_DGRAM = 2;
  static final int SOCK_CLOEXEC = 0x80000;
  static final int MSG_NOSIGNAL = 0x4000;
  static final int CLOCK_MONOTONIC = 1;
  static final int EINTR = 4;
  static final int ENOENT = 2;
  static final int ECONNREFUSED = 111;

  static {
    Native.register(LibC.class, Platform.C_LIBRARY_NAME);
  }

  private LibC() {}

  static native int socket(int domain, int type, int protocol) throws LastErrorException;

  // size_t and ssize_t are as wide as long on Linux, which is what NativeLong maps to.
  static native NativeLong sendto(int fd, byte[] buf, NativeLong len, int flags, byte[] addr, int addrLen)
      throws LastErrorException;

  static native int close(int fd) throws LastErrorException;

  static native int clock_gettime(int clockId, Pointer timespec) throws LastErrorException;
}
