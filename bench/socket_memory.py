"""Where an idle socket's memory goes: tracemalloc snapshots of one gateway diffed around N idle
XPARO sockets (offering permessage-deflate, as browsers do), grouped by the code that allocated
what is still held (the innermost frame of a known part: the socket layer, the adapter, the
bridge, the limits, uvicorn, Starlette/FastAPI, websockets, the event loop's transports).

    .venv/bin/python bench/socket_memory.py [--connections 2000] [--top 25]

tracemalloc (15 frames) roughly doubles RSS; read the traced bytes per socket, not the RSS.
`bench/connections.py` measures the real figure.
"""

import argparse
import collections
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import echo_project, helper, running_stack
from connections import raise_open_files, settled_rss

PARTS = [  # (a path fragment of the innermost known frame, the part it belongs to)
    ("asyncio/runners.py", "event loop and transports (C)"),
    ("services/gateway/edge/http_limits.py", "uvicorn HTTP protocol"),
    ("services/gateway/protocols/", "adapter"),
    ("services/gateway/bus/turn_numbers.py", "adapter's conversations"),
    ("services/gateway/bus/bridge.py", "bridge (reply routing)"),
    ("services/gateway/edge/limits.py", "limits (seat)"),
    ("services/gateway/edge/metrics.py", "metrics (meter)"),
    ("services/gateway/edge/connection.py", "socket layer"),
    ("services/gateway/edge/sockets.py", "socket layer"),
    ("services/gateway/edge/inbox.py", "socket layer"),
    ("services/gateway/edge/outbox.py", "socket layer"),
    ("services/gateway/edge/wsserver.py", "socket layer"),
    ("services/gateway/bus/resume.py", "resume"),
    ("services/gateway/", "gateway, other"),
    ("starlette/", "Starlette"),
    ("fastapi/", "FastAPI"),
    ("uvicorn/protocols/websockets", "uvicorn WebSocket protocol"),
    ("uvicorn/protocols/http", "uvicorn HTTP protocol"),
    ("websockets/", "websockets"),
    ("nats/", "nats"),
]


def part_of(traceback: tracemalloc.Traceback) -> tuple[str, str]:
    for frame in reversed(list(traceback)):  # innermost first
        for fragment, part in PARTS:
            if fragment in frame.filename:
                where = frame.filename.split("site-packages/")[-1].split(f"{Path.cwd()}/")[-1]
                return part, f"{where}:{frame.lineno}"
    return "other", "?"


def snapshot(pid: int, folder: Path, n: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    done = folder / f"snap{n}.pickle.done"
    deadline = time.monotonic() + 300
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return tracemalloc.Snapshot.load(str(folder / f"snap{n}.pickle"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25, help="allocation sites listed")
    args = parser.parse_args()
    raise_open_files()
    with tempfile.TemporaryDirectory(prefix="bench-socket-memory-") as tmp:
        folder = Path(tmp)
        with running_stack(
            folder,
            GATEWAY_MAX_CONNECTIONS=str(args.connections * 2),
            GATEWAY_MAX_PROJECT_CONNECTIONS=str(args.connections * 2),
            PYTHONPATH=f"{Path(__file__).parent / 'probe'}:{Path.cwd()}",
            SOCKET_MEMORY_DIR=tmp,
        ) as stack:
            project = echo_project(stack)
            gateway = stack.gateway.process
            assert gateway is not None
            settled_rss(gateway.pid)
            before = snapshot(gateway.pid, folder, 0)
            half = args.connections // 2
            url = stack.ws_url(project)
            holders = [helper("ws-clients", url, str(half), "deflate") for _ in range(2)]
            settled_rss(gateway.pid)
            after = snapshot(gateway.pid, folder, 1)
            for holder in holders:
                holder.kill()
                holder.wait()
    n = half * 2
    parts: collections.Counter[str] = collections.Counter()
    sites: collections.Counter[tuple[str, str]] = collections.Counter()
    for stat in after.compare_to(before, "traceback"):
        part, site = part_of(stat.traceback)
        parts[part] += stat.size_diff
        sites[(part, site)] += stat.size_diff
    print(f"\n{n:,} idle sockets: {sum(parts.values()) / n / 1024:.2f} KiB traced per socket")
    for part, size in parts.most_common():
        print(f"  {part:<34}{size / n:>8.0f} B")
    print(f"\ntop {args.top} allocation sites (bytes per socket):")
    for (part, site), size in sites.most_common(args.top):
        print(f"  {size / n:>6.0f}  {part:<30} {site}")


if __name__ == "__main__":
    main()
