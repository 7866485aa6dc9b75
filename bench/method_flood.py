"""Sends COUNT requests to /health, each with a method token never used before, over a few
keep-alive connections (wrk only sends the methods it knows). Prints requests per second.

    python3 bench/method_flood.py http://127.0.0.1:5090 20000
"""

import socket
import sys
import time
from urllib.parse import urlparse

base, count = urlparse(sys.argv[1]), int(sys.argv[2])
CONNECTIONS, BATCH = 4, 100


def flood(sock, start, n):
    sent = 0
    reader = sock.makefile("rb")
    while sent < n:
        batch = min(BATCH, n - sent)
        sock.sendall(b"".join(
            f"M{start + sent + i}X /health HTTP/1.1\r\nHost: {base.netloc}\r\n\r\n".encode() for i in range(batch)))
        for _ in range(batch):
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
        sent += batch


started = time.time()
socks = [socket.create_connection((base.hostname, base.port)) for _ in range(CONNECTIONS)]
per = count // CONNECTIONS
for n, sock in enumerate(socks):
    flood(sock, n * per, per)
    sock.close()
print(f"{per * CONNECTIONS / (time.time() - started):.0f} req/s")
