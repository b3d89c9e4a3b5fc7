#!/usr/bin/python3
"""Times one start of a command, for bench/p1-startup.

  timer.py ready TIMEOUT_S [LOG] -- CMD...   exec -> the first READY=1 datagram on a NOTIFY_SOCKET this process listens
                                       on (a unix datagram socket, as systemd's); then SIGKILL (a clean SIGTERM stop
                                       sends a last report, up to 3 s that are not part of the measurement)
  timer.py exit TIMEOUT_S [LOG] -- CMD...    exec -> exit (the shell floor)

LOG, if given, receives the command's stdout and stderr (appended); otherwise they are the timer's.

Prints one line: "<wall ms> <cpu ms> <exit status>". cpu ms: for `ready`, the process's utime+stime (all its
threads; /proc/PID/stat, 10 ms ticks) at the moment READY=1 arrived; for `exit`, the rusage of the command and
everything it waited for. The exit status of `ready` is -9 (killed) when all went well.
The clock starts just before fork+exec (time.monotonic_ns) and stops when the datagram is received (or the
process is reaped); the helper's own start-up is outside the measurement. Exit status 2 and a message on
stderr when READY=1 does not come within TIMEOUT_S or the command fails.
"""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    """utime+stime of every thread of pid, in ms (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def main():
    mode, timeout = sys.argv[1], float(sys.argv[2])
    rest = sys.argv[3:]
    out = None
    if rest and rest[0] != "--":
        out = open(rest.pop(0), "ab")
    if not rest or rest[0] != "--":
        sys.exit("usage: timer.py ready|exit TIMEOUT [LOG] -- CMD...")
    cmd = rest[1:]
    env = dict(os.environ)
    if mode == "exit":
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic_ns()
        rc = subprocess.call(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        t1 = time.monotonic_ns()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000
        print(f"{(t1 - t0) / 1e6:.1f} {cpu:.0f} {rc}")
        sys.exit(0 if rc == 0 else 2)
    d = tempfile.mkdtemp(prefix="bench-notify.")
    path = os.path.join(d, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    env["NOTIFY_SOCKET"] = path
    messages = []
    try:
        t0 = time.monotonic_ns()
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        ready_at = None
        while ready_at is None:
            left = deadline - time.monotonic()
            if left <= 0 or p.poll() is not None:
                break
            s.settimeout(min(left, 0.2))
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            now = time.monotonic_ns()
            msg = data.decode("utf-8", "replace")
            messages.append(msg)
            if "READY=1" in msg.split("\n"):
                ready_at = now
                cpu = cpu_ms(p.pid)
        if p.poll() is None:
            p.kill()
        p.wait()
        if ready_at is None:
            sys.stderr.write(f"no READY=1 within {timeout}s (exit {p.returncode}); got {messages}\n")
            sys.exit(2)
        print(f"{(ready_at - t0) / 1e6:.1f} {cpu:.0f} {p.returncode}")
    finally:
        s.close()
        os.unlink(path)
        os.rmdir(d)


if __name__ == "__main__":
    main()
