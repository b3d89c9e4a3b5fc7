package io.istiovmagent.sidecar;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/** The Linux calls {@link PidfdExitWatcher} needs, bound by JNA direct mapping (as systemd.LibC is). */
final class PidfdCalls {
  /**
   * pidfd_open(2), Linux 5.3. Called through syscall(2) rather than glibc's wrapper, which only glibc 2.36 has; the
   * number is the same on every architecture (new system calls share one table since 5.1).
   */
  static final long SYS_PIDFD_OPEN = 434;
  static final int EPERM = 1;
  static final int ESRCH = 3;
  static final int EINTR = 4;
  static final int EAGAIN = 11;
  static final int ENOSYS = 38;
  static final short POLLIN = 0x1;
  /** eventfd(2) flags, as on x86 and ARM. */
  static final int EFD_CLOEXEC = 0x80000;
  static final int EFD_NONBLOCK = 0x800;
  /** sizeof(struct pollfd): int fd, short events, short revents. */
  static final int POLLFD_SIZE = 8;

  static {
    Native.register(PidfdCalls.class, Platform.C_LIBRARY_NAME);
  }

  private PidfdCalls() {}

  // syscall(2) is variadic; on x86-64 and ARM64 Linux, integer arguments travel the same way either way.
  static native long syscall(long number, long arg1, long arg2) throws LastErrorException;

  static native int eventfd(int initval, int flags) throws LastErrorException;

  // nfds_t is unsigned long: 64 bits on the 64-bit targets, as Java's long.
  static native int poll(Pointer fds, long nfds, int timeoutMillis) throws LastErrorException;

  static native NativeLong read(int fd, byte[] buf, NativeLong count) throws LastErrorException;

  static native NativeLong write(int fd, byte[] buf, NativeLong count) throws LastErrorException;

  static native int close(int fd) throws LastErrorException;

  /** pidfd_open(pid, 0): a file descriptor (close-on-exec) that polls readable once the process has exited. */
  static int pidfdOpen(long pid) throws LastErrorException {
    return (int) syscall(SYS_PIDFD_OPEN, pid, 0);
  }
}
