"""Connections: idle WebSocket connections held by one gateway process, memory per connection.

Starts embedded NATS and Postgres, a dialog replica and one gateway (connection caps raised
above the count, the process's open-file limit raised to its hard limit), measures the
gateway's resident memory, opens `--connections` idle XPARO sockets (each its own session, so
each is followed for its replies) from `--clients` client processes, offering permessage-deflate
as browsers do (`--offer none`: as websocket-client), waits for the gateway to
settle and measures again: (after - before) / connections. Baseline in the same run: a bare
`websockets` server process holding the same number of connections from the same clients.
Goal: <= 16 KiB per connection.

    .venv/bin/python bench/connections.py [--connections 10000] [--clients 4]
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from common import Goal, echo_project, helper, running_stack, write

from shared.devstack.embedded import free_port

NAME = "connections"
KIB = 1024


def raise_open_files() -> int:
    """Raise this process's (and so its children's) open-file limit to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return int(hard)


def settled_rss(pid: int, within_s: float = 20) -> int:
    """The process's RSS once it stops changing by more than 1% in a second."""
    process = psutil.Process(pid)
    last, deadline = int(process.memory_info().rss), time.monotonic() + within_s
    while time.monotonic() < deadline:
        time.sleep(1)
        now = int(process.memory_info().rss)
        if abs(now - last) < last * 0.01:
            return now
        last = now
    return last


def hold(pid: int, url: str, connections: int, clients: int, offer: str) -> dict[str, float]:
    """RSS of `pid` before and after `connections` idle sockets to `url`, in KiB."""
    before = settled_rss(pid)
    started = time.monotonic()
    per = [connections // clients + (1 if n < connections % clients else 0) for n in range(clients)]
    holders = [helper("ws-clients", url, str(count), offer) for count in per]
    opened_s = time.monotonic() - started
    after = settled_rss(pid)
    for holder in holders:
        holder.kill()
        holder.wait()
    return {
        "rss_before_kib": before / KIB,
        "rss_after_kib": after / KIB,
        "per_connection_kib": (after - before) / connections / KIB,
        "open_s": opened_s,
    }


def measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    found: dict[str, Any] = {
        "connections": args.connections,
        "offer": args.offer,
        "open_files_limit": raise_open_files(),
    }
    port = free_port()
    bare = helper("ws-hold", str(port))
    try:
        found["bare_websockets"] = hold(
            bare.pid, f"ws://127.0.0.1:{port}/", args.connections, args.clients, args.offer
        )
    finally:
        bare.kill()
    caps = str(args.connections * 2)
    with running_stack(
        root, GATEWAY_MAX_CONNECTIONS=caps, GATEWAY_MAX_PROJECT_CONNECTIONS=caps
    ) as stack:
        project = echo_project(stack)
        gateway = stack.gateway.process
        assert gateway is not None
        found["gateway"] = hold(
            gateway.pid, stack.ws_url(project), args.connections, args.clients, args.offer
        )
    return found


def figures(found: dict[str, Any]) -> list[Goal]:
    ours, bare = (
        found["gateway"]["per_connection_kib"],
        found["bare_websockets"]["per_connection_kib"],
    )
    return [
        Goal(
            goal=f"3 memory / idle socket ({found['connections']:,})",
            figure=f"{ours:.1f} KiB",
            baseline=f"bare websockets {bare:.1f} KiB",
            ratio=ours / bare if bare > 0 else None,
            target="<= 16 KiB",
            met=ours <= 16,
        )
    ]


def print_table(found: dict[str, Any]) -> None:
    offer = found.get("offer", "none")
    print(f"\nconnections: {found['connections']:,} idle sockets on one process (offer: {offer})")
    print(f"{'server':<18}{'RSS before MiB':>16}{'RSS after MiB':>16}{'KiB/conn':>10}{'open s':>8}")
    for name in ("gateway", "bare_websockets"):
        row = found[name]
        print(
            f"{name:<18}{row['rss_before_kib'] / KIB:>16.1f}{row['rss_after_kib'] / KIB:>16.1f}"
            f"{row['per_connection_kib']:>10.2f}{row['open_s']:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000, help="idle sockets")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument(
        "--offer",
        choices=("deflate", "none"),
        default="deflate",
        help="what the clients offer: permessage-deflate, as every browser does (the goal "
        "counts it), or nothing, as websocket-client",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-connections-") as tmp:
        found = measure(args, Path(tmp))
    print_table(found)
    write(NAME, found, figures(found))


if __name__ == "__main__":
    main()
