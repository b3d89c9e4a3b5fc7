#!/usr/bin/python3
"""A counting TCP relay for P4: what one agent costs the onboarding endpoint on the wire.

  tcp_counter.py LISTEN_PORT TARGET_PORT STATS_FILE

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to 127.0.0.1:TARGET_PORT byte for byte (TLS passes
through untouched: the agent still verifies the endpoint's certificate, issued for localhost/127.0.0.1). Every
second, and on SIGTERM, it appends to STATS_FILE one line of running totals:

  <unix time> <connections opened> <bytes agent->endpoint> <bytes endpoint->agent>

Bytes are TCP payload (TLS records, handshakes included), not counting TCP/IP headers.
"""
import asyncio
import signal
import sys
import time

listen_port, target_port, stats_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
totals = {"conns": 0, "up": 0, "down": 0}


def write_stats():
    with open(stats_file, "a") as f:
        f.write(f"{time.time():.3f} {totals['conns']} {totals['up']} {totals['down']}\n")


async def pipe(reader, writer, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            totals[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(cr, cw):
    totals["conns"] += 1
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw, "up"), pipe(sr, cw, "down"))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        while not stop.is_set():
            write_stats()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
    write_stats()


asyncio.run(main())
