"""The streaming part of bench_serve: how long each chunk takes from its yield (the time it carries) to its
arrival at a raw-socket client on loopback."""

from __future__ import annotations

import socket
import statistics
import time

CHUNKS = 200


def chunk_delays_ms(port: int, chunks: int = CHUNKS) -> list[float]:
    """One streamed request; for each chunk, arrival time minus the yield time written in it."""
    body = str(chunks).encode()
    head = f"POST /invocations HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    delays: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, sock.makefile("rb") as stream:
        sock.sendall(head.encode() + body)
        while stream.readline() not in (b"\r\n", b""):
            pass
        while (size := int(stream.readline().split(b";")[0] or b"0", 16)) > 0:
            data = stream.read(size + 2)
            arrived = time.time()
            delays.extend((arrived - float(line)) * 1e3 for line in data.split())
    return delays


def print_stream_delays(name: str, port: int, rounds: int) -> None:
    delays = sorted(d for _ in range(rounds) for d in chunk_delays_ms(port))
    if not delays:
        print(f"{name}: no chunks")
        return
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(
        f"{name:<34} {len(delays)} chunks: delay median {statistics.median(delays):.2f} ms, p99 {p99:.2f} ms, "
        f"max {delays[-1]:.2f} ms; within 5 ms: {sum(d < 5 for d in delays) / len(delays):.1%}"
    )
