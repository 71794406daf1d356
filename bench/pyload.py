"""A small HTTP/1.1 keep-alive load generator, for machines without wrk.

Run as its own process (``python -m bench.pyload SPEC.json``) so it never shares a GIL
with the server or the harness. It is closed-loop like wrk: each of N connections sends
the next request as soon as the previous answer is read. asyncio with raw streams keeps
it at several thousand requests per second on one core, well above what a Python WSGI
server answers, so it is rarely the bottleneck; the result says which tool was used.
Prints one JSON object: requests, seconds, status and socket errors, latency histogram.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Tally:
    requests: int = 0
    status_errors: int = 0
    socket_errors: int = 0
    latency_us: Counter[int] = field(default_factory=Counter)


def encode_request(spec: dict[str, Any]) -> tuple[str, int, bytes]:
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = spec.get("body", "").encode("latin-1")
    lines = [f"{spec['method']} {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in spec.get("headers", {}).items()]
    if body or spec["method"] in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) after consuming one whole response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        await _read_chunked(reader)
    else:
        await reader.read()
        return status, False
    return status, headers.get("connection") != "close"


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def connection(host: str, port: int, payload: bytes, deadline: float,
                     tally: Tally) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter()
            writer.write(payload)
            status, keep_alive = await read_response(reader)
            tally.latency_us[int((time.perf_counter() - started) * 1e6)] += 1
            tally.requests += 1
            tally.status_errors += status >= 400
            if not keep_alive:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.socket_errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, payload = encode_request(spec)
    tally = Tally()
    started = time.perf_counter()
    deadline = started + float(spec["duration"])
    await asyncio.gather(*(connection(host, port, payload, deadline, tally)
                           for _ in range(int(spec["connections"]))))
    return {"requests": tally.requests, "seconds": time.perf_counter() - started,
            "status_errors": tally.status_errors, "socket_errors": tally.socket_errors,
            "histogram": sorted(tally.latency_us.items())}


def main() -> None:
    with open(sys.argv[1]) as source:
        spec = json.load(source)
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
