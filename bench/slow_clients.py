"""Slow and idle clients against a running server, as an attacker would send them.

    python3 bench/slow_clients.py BASE_URL SERVER_PID

Phases, each bounded in time, against the server on loopback only:
  1. slow headers: 500 connections each sending up to 370 KB of headers that never end,
     4 KB at a time;
  2. a flood of silent connections (6,000: more than the default cap of 4,096);
  3. after both: how long until the server closed them, and what memory it kept.
During each phase /health is timed on a connection opened before the attack (a client
the server had already accepted, as Twilio's kept-alive webhook connections are).
Prints one JSON object with RSS (MB) and latencies (ms).
"""

import asyncio
import json
import sys
import time
from urllib.parse import urlparse

BASE = urlparse(sys.argv[1])
HOST, PORT = BASE.hostname, BASE.port
PID = sys.argv[2]
HEALTH = f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def rss_mb():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


async def read_answer(reader):
    """Reads one /health answer (headers and the small JSON body)."""
    data = b""
    while b"healthy" not in data:
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


async def time_health(reader, writer, count=50):
    """Times `count` /health requests on an open keep-alive connection (ms, sorted)."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(HEALTH)
        await writer.drain()
        await asyncio.wait_for(read_answer(reader), 10)
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)
    times.sort()
    return {"p50": round(times[len(times) // 2], 2), "p99": round(times[int(len(times) * 0.99) - 1], 2)}


async def slow_header_client(results):
    """Sends headers that never end; records how the server answered and when it closed."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
    except OSError:
        results["refused"] += 1
        return
    try:
        writer.write(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        line = b"X-Filler: " + b"a" * 4080 + b"\r\n"
        for _ in range(90):  # ~370 KB
            writer.write(line)
            await writer.drain()
            await asyncio.sleep(0.05)
        answer = await asyncio.wait_for(reader.read(64), 30)
    except (OSError, asyncio.TimeoutError, ConnectionError):
        answer = b""
    if answer.startswith(b"HTTP/1.1 431"):
        results["431"] += 1
    results["closed_after_s"].append(time.monotonic() - started)
    writer.close()


async def silent_client(results, hold_s):
    """Opens a connection, sends nothing, and waits (at most `hold_s`) for the server to close it."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 5)
    except (OSError, asyncio.TimeoutError):
        results["not_connected"] += 1
        return
    try:
        data = await asyncio.wait_for(reader.read(1), hold_s)
        if data == b"":
            results["closed_after_s"].append(time.monotonic() - started)
    except asyncio.TimeoutError:
        results["still_open"] += 1
    except OSError:
        results["closed_after_s"].append(time.monotonic() - started)
    writer.close()


def summary(values):
    if not values:
        return None
    values = sorted(values)
    return {"min": round(values[0], 1), "p50": round(values[len(values) // 2], 1), "max": round(values[-1], 1)}


async def main():
    report = {"rss_before_mb": rss_mb()}
    reader, writer = await asyncio.open_connection(HOST, PORT)
    report["health_before_ms"] = await time_health(reader, writer)

    # 1. Slow headers.
    slow = {"431": 0, "refused": 0, "closed_after_s": []}
    attack = asyncio.gather(*(slow_header_client(slow) for _ in range(500)))
    task = asyncio.ensure_future(attack)
    await asyncio.sleep(1.0)
    report["slow_headers_rss_during_mb"] = rss_mb()
    try:
        report["slow_headers_health_during_ms"] = await time_health(reader, writer)
    except (OSError, asyncio.TimeoutError, ConnectionError) as error:
        report["slow_headers_health_during_ms"] = f"failed: {error!r}"
        reader, writer = await asyncio.open_connection(HOST, PORT)
    await asyncio.wait_for(task, 120)
    report["slow_headers"] = {"answered_431": slow["431"], "refused": slow["refused"],
                              "closed_after_s": summary(slow["closed_after_s"])}
    await asyncio.sleep(2)
    report["slow_headers_rss_after_mb"] = rss_mb()

    # 2. A flood of silent connections, more than the cap.
    silent = {"not_connected": 0, "still_open": 0, "closed_after_s": []}
    flood = asyncio.ensure_future(asyncio.gather(*(silent_client(silent, 25) for _ in range(6000))))
    await asyncio.sleep(3)
    report["flood_rss_during_mb"] = rss_mb()
    try:
        report["flood_health_during_ms"] = await time_health(reader, writer)
    except (OSError, asyncio.TimeoutError, ConnectionError) as error:
        report["flood_health_during_ms"] = f"failed: {error!r}"
    await flood
    report["flood"] = {"connections": 6000, "not_connected": silent["not_connected"],
                       "still_open_after_25s": silent["still_open"],
                       "closed_after_s": summary(silent["closed_after_s"])}
    await asyncio.sleep(2)
    report["rss_2s_after_mb"] = rss_mb()
    # The server hands freed connection memory back every few seconds, not at once.
    await asyncio.sleep(6)
    report["rss_after_mb"] = rss_mb()

    # 3. The same flood again: what is kept is bounded, not growing with each attack.
    again = {"not_connected": 0, "still_open": 0, "closed_after_s": []}
    await asyncio.gather(*(silent_client(again, 25) for _ in range(6000)))
    await asyncio.sleep(8)
    report["rss_after_second_flood_mb"] = rss_mb()
    report["second_flood_still_open_after_25s"] = again["still_open"]
    writer.close()
    print(json.dumps(report, indent=1))


asyncio.run(main())
