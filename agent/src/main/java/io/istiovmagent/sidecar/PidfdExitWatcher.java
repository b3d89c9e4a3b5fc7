package io.istiovmagent.sidecar;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * An {@link ExitWatcher} on Linux process file descriptors: {@code pidfd_open(2)} (Linux 5.3+) on the PID, and one
 * thread blocked in {@code poll(2)} on it, which returns the moment the process exits. Nothing runs in between: no
 * timer, no polling. An eventfd wakes the thread when the PID to watch changes or the watcher is closed.
 *
 * <p>A pidfd refers to one process, not to a number: a PID reused after the process is gone is never confused with
 * it. A process that has exited but not been reaped yet (a zombie) polls readable at once.
 *
 * <p>Where pidfd_open is missing (ENOSYS, kernels before 5.3) or refused (EPERM from a seccomp filter, as systemd's
 * {@code SystemCallErrorNumber=EPERM} makes it; the unit's {@code @system-service} allows it), or JNA's native part
 * cannot load, {@link #watch} answers {@link Armed#UNSUPPORTED} from then on, and the caller looks for itself.
 */
public final class PidfdExitWatcher implements ExitWatcher {
  private record Target(long pid, int fd, LongConsumer onExit) {}

  private final Object lock = new Object();
  private final String threadName;
  // Guarded by lock.
  private Thread thread;
  private int eventFd = -1;
  /** What watch() asked for last; null when nothing is to be watched (or it has exited). */
  private Target wanted;
  /** What the thread polls; its fd is closed by the thread alone, so poll never sees a closed or reused fd. */
  private Target adopted;
  private boolean closed;
  private volatile String unsupported;

  public PidfdExitWatcher(String threadName) {
    this.threadName = Objects.requireNonNull(threadName, "threadName == null");
  }

  @Override
  public Armed watch(long pid, LongConsumer onExit) {
    Objects.requireNonNull(onExit, "onExit == null");
    if (pid <= 0 || pid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("not a process id: " + pid);
    }
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("the exit watcher is closed");
      }
      if (unsupported != null) {
        return Armed.UNSUPPORTED;
      }
      if (wanted != null && wanted.pid() == pid) {
        return Armed.WATCHING; // the same process: a PID cannot be reused while its pidfd has not fired
      }
    }
    int fd;
    try {
      fd = PidfdCalls.pidfdOpen(pid);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == PidfdCalls.ESRCH) {
        return Armed.GONE;
      }
      return unsupported("pidfd_open failed: " + e.getMessage() + (e.getErrorCode() == PidfdCalls.ENOSYS
          ? " (the kernel is older than 5.3)" : e.getErrorCode() == PidfdCalls.EPERM
          ? " (refused, most likely by a system call filter)" : ""));
    } catch (RuntimeException | LinkageError e) {
      return unsupported("the native call failed: " + e);
    }
    synchronized (lock) {
      if (closed || unsupported != null) {
        closeQuietly(fd);
        if (closed) {
          throw new IllegalStateException("the exit watcher is closed");
        }
        return Armed.UNSUPPORTED;
      }
      try {
        startThread();
      } catch (RuntimeException | LinkageError e) {
        closeQuietly(fd);
        return unsupported("cannot start the watching thread: " + e);
      }
      if (wanted != null && wanted != adopted) {
        closeQuietly(wanted.fd()); // never polled: replaced before the thread took it
      }
      wanted = new Target(pid, fd, onExit);
      signal();
    }
    return Armed.WATCHING;
  }

  @Override
  public Optional<String> unsupportedReason() {
    return Optional.ofNullable(unsupported);
  }

  @Override
  public void close() {
    Thread t;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      t = thread;
      if (t == null) {
        if (wanted != null) {
          closeQuietly(wanted.fd());
          wanted = null;
        }
        return;
      }
      signal();
    }
    // The thread closes every descriptor on its way out.
    if (t != Thread.currentThread()) {
      try {
        t.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private Armed unsupported(String why) {
    unsupported = why;
    return Armed.UNSUPPORTED;
  }

  /** Guarded by lock. */
  private void startThread() {
    if (thread != null) {
      return;
    }
    eventFd = PidfdCalls.eventfd(0, PidfdCalls.EFD_CLOEXEC | PidfdCalls.EFD_NONBLOCK);
    Thread t = new Thread(this::run, threadName);
    t.setDaemon(true);
    t.start();
    thread = t;
  }

  /** Guarded by lock: makes the thread's poll return so it takes the new target (or sees closed). */
  private void signal() {
    if (eventFd < 0) {
      return;
    }
    byte[] one = {1, 0, 0, 0, 0, 0, 0, 0}; // a uint64 1, little-endian as on x86 and ARM
    try {
      PidfdCalls.write(eventFd, one, new NativeLong(8));
    } catch (LastErrorException e) {
      // EAGAIN: the counter is already huge, so the thread will wake anyway.
    }
  }

  private void run() {
    Memory fds = new Memory(2L * PidfdCalls.POLLFD_SIZE);
    byte[] drain = new byte[8];
    Target current = null;
    try {
      while (true) {
        int efd;
        synchronized (lock) {
          if (closed) {
            return;
          }
          if (wanted != adopted) {
            if (adopted != null) {
              closeQuietly(adopted.fd());
            }
            adopted = wanted;
          }
          current = adopted;
          efd = eventFd;
        }
        fds.setInt(0, efd);
        fds.setShort(4, PidfdCalls.POLLIN);
        fds.setShort(6, (short) 0);
        fds.setInt(8, current != null ? current.fd() : -1); // poll ignores a negative fd
        fds.setShort(12, PidfdCalls.POLLIN);
        fds.setShort(14, (short) 0);
        try {
          PidfdCalls.poll(fds, 2, -1);
        } catch (LastErrorException e) {
          if (e.getErrorCode() == PidfdCalls.EINTR) {
            continue;
          }
          throw e;
        }
        if (fds.getShort(6) != 0) {
          try {
            PidfdCalls.read(efd, drain, new NativeLong(8));
          } catch (LastErrorException e) {
            // EAGAIN: another wake-up already drained it.
          }
        }
        if (current != null && fds.getShort(14) != 0) {
          // POLLIN: the process exited. POLLHUP/POLLERR would also mean the pidfd has nothing more to say.
          synchronized (lock) {
            if (wanted == current) {
              wanted = null;
            }
            adopted = null;
          }
          closeQuietly(current.fd());
          Target fired = current;
          current = null;
          report(fired);
        }
      }
    } catch (RuntimeException | LinkageError e) {
      // Cannot happen with a sound binding; if it does, say so and make the caller look for itself.
      unsupported = "the watching thread failed: " + e;
      if (current != null) {
        report(current);
      }
    } finally {
      synchronized (lock) {
        if (adopted != null) {
          closeQuietly(adopted.fd());
        }
        if (wanted != null && wanted != adopted) {
          closeQuietly(wanted.fd());
        }
        wanted = null;
        adopted = null;
        closeQuietly(eventFd);
        eventFd = -1;
        thread = null;
      }
    }
  }

  private static void report(Target t) {
    try {
      t.onExit().accept(t.pid());
    } catch (RuntimeException e) {
      // The listener's problem; the watcher carries on.
    }
  }

  private static void closeQuietly(int fd) {
    if (fd < 0) {
      return;
    }
    try {
      PidfdCalls.close(fd);
    } catch (LastErrorException | LinkageError e) {
      // Nothing useful to do: the descriptor is gone either way on Linux.
    }
  }

  @Override
  public String toString() {
    return "pidfd exit watcher" + (unsupported != null ? " (unsupported: " + unsupported + ")" : "");
  }
}
