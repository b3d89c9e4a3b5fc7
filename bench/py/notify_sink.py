#!/usr/bin/python3
"""A stand-in for systemd's notify socket, for daemons the bench keeps running (P2, P4).

  notify_sink.py SOCKET_PATH LOG

Binds a unix datagram socket at SOCKET_PATH (give it to the daemon as NOTIFY_SOCKET) and appends every datagram to
LOG as "<unix time> <message on one line>". Runs until SIGTERM; removes the socket on exit.
"""
import os
import signal
import socket
import sys
import time

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    with open(log, "a", buffering=1) as out:
        while True:
            data = s.recv(4096)
            out.write(f"{time.time():.6f} {data.decode('utf-8', 'replace').replace(chr(10), ' ')}\n")
finally:
    os.unlink(path)
