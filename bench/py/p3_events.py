#!/usr/bin/python3
"""P3: the sidecar dies -> its report reaches the endpoint, N times, in a booted container.

  p3_events.py PID1 REPORTS_JSONL COUNT SEED OUT

PID1 is the container's systemd as the host sees it; commands run in the container with nsenter. Each event:
  1. istio.service's MainPID (in the container) is mapped to the host's PID of the same process (NSpid);
  2. a random pause, uniform in [0, 1) s from a seeded generator: the agent looks at the unit once a second, and
     killing always right after its look (which is when the previous event's last report came) would measure the
     worst case every time;
  3. t_kill = time.time(), then SIGKILL straight from this process (no fork between the timestamp and the kill);
  4. latency = receivedAt (the endpoint's clock, the same host clock) of the first report received after t_kill
     whose sidecar.state is not "active/running", minus t_kill; none within 30 s counts as missed;
  5. then waits for a report of the sidecar running again under a new PID (systemd restarts it) before the next.
Writes one line per event to OUT: "<latency ms> <reported state>" (or "missed -").
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

pid1, reports, count, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ENV = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]


def in_vm(*argv):
    return subprocess.run(["nsenter", "-t", pid1, "-a", "--", *ENV, *argv], capture_output=True, text=True,
                          timeout=60).stdout.strip()


def unix(x):
    x = x.strip().replace("Z", "")
    if "." in x:
        a, b = x.split(".", 1)
        x = a + "." + b[:6]
    import datetime as d
    return d.datetime.fromisoformat(x).replace(tzinfo=d.timezone.utc).timestamp()


def host_pid(container_pid):
    ns = os.readlink(f"/proc/{pid1}/ns/pid")
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{p}/ns/pid") != ns:
                continue
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        if line.split()[-1] == str(container_pid):
                            return int(p)
                        break
        except OSError:
            continue
    return None


class Reports:
    """New lines of the endpoint's JSON-lines file; a line still being written is kept until it is whole."""

    def __init__(self, path):
        self.f = open(path)
        self.f.seek(0, os.SEEK_END)
        self.partial = ""

    def wait(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.partial + self.f.readline()
            if not line.endswith("\n"):
                self.partial = line
                time.sleep(0.01)
                continue
            self.partial = ""
            r = json.loads(line)
            if pred(r):
                return r
        return None


def sidecar(r):
    return r.get("sidecar") or {}


rng = random.Random(seed)
reports_f = Reports(reports)
with open(out, "w", buffering=1) as o:
    for i in range(count):
        cpid = in_vm("systemctl", "show", "-p", "MainPID", "--value", "istio.service")
        hpid = host_pid(cpid) if cpid not in ("", "0") else None
        if hpid is None:
            sys.exit(f"event {i}: istio.service has no main process (MainPID={cpid!r})")
        time.sleep(rng.uniform(0, 1))
        t_kill = time.time()
        os.kill(hpid, signal.SIGKILL)
        down = reports_f.wait(lambda r: unix(r["receivedAt"]) >= t_kill
                              and sidecar(r).get("state") != "active/running", 30)
        if down is None:
            o.write("missed -\n")
            while in_vm("systemctl", "show", "-p", "SubState", "--value", "istio.service") != "running":
                time.sleep(0.2)
            time.sleep(2)
            continue
        o.write(f"{(unix(down['receivedAt']) - t_kill) * 1000:.1f} {sidecar(down).get('state')}\n")
        back = reports_f.wait(lambda r: sidecar(r).get("state") == "active/running"
                              and str(sidecar(r).get("mainPid")) not in ("0", cpid), 60)
        if back is None:
            sys.exit(f"event {i}: no report of the sidecar running again within 60 s")
