"""Backpressure: does one client that stops reading slow everyone else down?

Starts embedded NATS and Postgres, a dialog replica and a gateway (default limits), connects
`--clients` XPARO WebSocket clients (asyncio `websockets`, one process) that each ask one
question every `--every` seconds, and measures each turn's latency (ask_bot sent → answer
read). Run A: `--seconds` of that. Run B, in the same run with the same clients: as long
again, while one more client on the same gateway has stopped reading and an operator keeps
saying long things (64 KB, `--push-mb-s` MB/s) to its session. The two runs are cut into
`--rounds` windows that alternate. At the end the stalled clients read again, to find how the
gateway closed them. The goal (issue 9): everyone else's p99 in B within 10% of A.

    .venv/bin/python bench/backpressure.py [--clients 500] [--every 12] [--seconds 20]
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import numpy as np
import websocket
from common import running_stack
from websockets.asyncio.client import ClientConnection, connect

from shared import subjects
from shared.contracts import BotSpoke
from tests.support.plugin import Stack, TestProject, new_project

RESULTS = Path(__file__).parent / "results" / "backpressure.json"
PUSH = "word " * 13_000  # ~64 KB
STALLED_SESSION = "stalled"  # one session per B window: stalled-0, stalled-1, ...
REPLY_WAIT_S = 30.0  # a turn not answered by then counts as an error, and its client stops
CLOSE_WAIT_S = 90.0  # how long a stalled client reading again waits for the gateway's close


@dataclass
class Phase:
    """Latencies of the turns answered while one phase ran."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        cut = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
        return {
            "turns": len(ordered),
            "errors": self.errors,
            "p50_ms": cut[49] * 1000,
            "p99_ms": cut[98] * 1000,
            "max_ms": ordered[-1] * 1000 if ordered else 0.0,
        }


def p99_ratio_interval(a: list[float], b: list[float], *, draws: int = 2000) -> tuple[float, float]:
    """A 90% bootstrap interval of p99(B) / p99(A): a p99 rests on the slowest 1% of turns
    (a few dozen), so one ratio alone says little about whether B is really slower."""
    rng = np.random.default_rng(9)
    xa, xb = np.asarray(a), np.asarray(b)
    pa = np.percentile(rng.choice(xa, (draws, len(xa))), 99, axis=1)
    pb = np.percentile(rng.choice(xb, (draws, len(xb))), 99, axis=1)
    low, high = np.percentile(pb / pa, [5, 95])
    return float(low), float(high)


def verdict(low: float, high: float, *, goal: float = 1.10) -> str:
    """met when even the interval's top is within the goal; missed when even its bottom is not."""
    if high <= goal:
        return "met"
    return "missed" if low > goal else "not shown either way (noise)"


class Load:
    """The clients' steady turns; `phase` is where their latencies go now (None: not kept)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.phase: Phase | None = None
        self.running = True

    async def client(self, url: str, n: int) -> None:
        async with connect(url, max_size=None, open_timeout=60) as ws:
            await asyncio.sleep(random.uniform(0, self.every_s))  # noqa: S311 (spread only)
            while self.running:
                started = time.perf_counter()
                await self.turn(ws, n)
                await asyncio.sleep(max(0.0, self.every_s - (time.perf_counter() - started)))

    async def turn(self, ws: ClientConnection, n: int) -> None:
        phase = self.phase
        started = time.perf_counter()
        await ws.send(json.dumps({"ask_bot": f"hello from client {n}"}))
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), REPLY_WAIT_S))
        except TimeoutError:
            if phase is not None and phase is self.phase:
                phase.errors += 1
            raise  # a late reply would be taken for the next turn's: this client stops
        took = time.perf_counter() - started
        if phase is not None and phase is self.phase:
            if "message" in frame:
                phase.latencies.append(took)
            else:
                phase.errors += 1


async def push(
    stack: Stack, project: TestProject, session: str, mb_s: float, until: asyncio.Event
) -> int:
    """An operator saying long things to `session` until `until`; how many."""
    nc = await nats.connect(stack.backends.nats_url)
    subject = subjects.chat_reply(project=project.key, session=session)
    said = 0
    try:
        while not until.is_set():
            event = BotSpoke.first(
                project_key=project.key, session_id=session, text=PUSH, source="operator"
            )
            await nc.publish(subject, event.model_dump_json().encode())
            said += 1
            await asyncio.sleep(len(PUSH) / (mb_s * 1e6))
        await nc.flush()
    finally:
        await nc.close()
    return said


def read_to_close(
    ws: websocket.WebSocket, within_s: float = CLOSE_WAIT_S
) -> tuple[int | None, str, int]:
    """The stalled client reads again: the close code and reason it finds, after how many
    frames (code None: the connection ended without a close frame, reason "open": no close
    within `within_s` — its queue never overflowed, so it is an ordinary client again, kept
    alive by the gateway's pings, which it now answers)."""
    frames = 0
    deadline = time.monotonic() + within_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            ws.settimeout(left)
            opcode, frame = ws.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode(), frames
            frames += opcode == websocket.ABNF.OPCODE_TEXT
    except websocket.WebSocketTimeoutException:
        pass
    except (websocket.WebSocketException, OSError):
        return None, "", frames
    finally:
        ws.shutdown()  # type: ignore[no-untyped-call]
    return None, "open", frames


async def stall(stack: Stack, project: TestProject, session: str) -> websocket.WebSocket:
    """A client of `session` that never reads (a small receive buffer, as a stuck phone)."""
    return await asyncio.to_thread(
        websocket.create_connection,
        stack.ws_url(project, query=f"session_id={session}"),
        timeout=60,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
    )


async def measure(stack: Stack, project: TestProject, args: argparse.Namespace) -> dict[str, Any]:
    """Windows of A and B alternate (A B A B ...), so a drift of the machine's load (other
    processes, a growing database) weighs on both alike; each B window has its own stalled
    client, which reads again only at the end."""
    load = Load(args.every)
    url = stack.ws_url(project)
    clients = [asyncio.create_task(load.client(url, n)) for n in range(args.clients)]
    await asyncio.sleep(args.every + 10)  # everyone connected and past their first turn
    a, b = Phase(), Phase()
    window = args.seconds / args.rounds
    stalled: list[websocket.WebSocket] = []
    pushes = 0
    for n in range(args.rounds):
        load.phase = a
        await asyncio.sleep(window)
        session = f"{STALLED_SESSION}-{n}"
        stalled.append(await stall(stack, project, session))
        stop = asyncio.Event()
        pushing = asyncio.create_task(push(stack, project, session, args.push_mb_s, stop))
        load.phase = b
        await asyncio.sleep(window)
        load.phase = None
        stop.set()
        pushes += await pushing
    load.running = False
    closes = await asyncio.gather(*(asyncio.to_thread(read_to_close, ws) for ws in stalled))
    await asyncio.wait_for(
        asyncio.gather(*clients, return_exceptions=True), REPLY_WAIT_S + args.every + 10
    )
    found_a, found_b = a.figures(), b.figures()
    low, high = p99_ratio_interval(a.latencies, b.latencies)
    return {
        "p99_ratio_90ci": [low, high],
        "goal_p99_within_10pct": verdict(low, high),
        "clients": args.clients,
        "turn_every_s": args.every,
        "run_s": args.seconds,
        "windows_per_run": args.rounds,
        "cpus": os.cpu_count() or 0,
        "a_without_stalled": found_a,
        "b_with_stalled": found_b,
        "p50_ratio_b_to_a": found_b["p50_ms"] / found_a["p50_ms"],
        "p99_ratio_b_to_a": found_b["p99_ms"] / found_a["p99_ms"],
        "stalled": {
            "clients": len(stalled),
            "pushed_mb": round(pushes * len(PUSH) / 1e6, 1),
            "frames_they_got": [got for _code, _reason, got in closes],
            "close_codes": [code for code, _reason, _got in closes],
            "close_reasons": [reason for _code, reason, _got in closes],
            "close_reason": closes[0][1],
        },
    }


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    with running_stack(root) as stack:
        project = new_project(stack.backends)
        return asyncio.run(measure(stack, project, args))


def print_table(found: dict[str, Any]) -> None:
    print(
        f"\nbackpressure: {found['clients']} XPARO clients, a turn each every "
        f"{found['turn_every_s']:g} s, {found['run_s']:g} s per run (in "
        f"{found['windows_per_run']} windows, A and B alternating), {found['cpus']} CPUs"
    )
    print(f"{'run':<34}{'turns':>8}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print("-" * 80)
    for name, key in (
        ("A without a stalled client", "a_without_stalled"),
        ("B with one", "b_with_stalled"),
    ):
        row = found[key]
        print(
            f"{name:<34}{row['turns']:>8}{row['errors']:>8}"
            f"{row['p50_ms']:>10.1f}{row['p99_ms']:>10.1f}{row['max_ms']:>10.1f}"
        )
    print(f"{'ratio B/A':<50}{found['p50_ratio_b_to_a']:>10.2f}{found['p99_ratio_b_to_a']:>10.2f}")
    low, high = found["p99_ratio_90ci"]
    print(
        f"p99 ratio B/A, 90% bootstrap interval: {low:.2f} to {high:.2f}; goal (within 10%): "
        f"{found['goal_p99_within_10pct']}"
    )
    stalled = found["stalled"]
    print(
        f"\nstalled clients: {stalled['clients']} (one per B window), {stalled['pushed_mb']} MB "
        f"pushed to them; reading again they got {stalled['frames_they_got']} frames, then "
        f"close codes {stalled['close_codes']} ({stalled['close_reasons']!r}; None: dropped, "
        f"'open': never closed, its queue did not overflow)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=500, help="steady XPARO clients")
    parser.add_argument(
        "--every", type=float, default=12.0, help="seconds between a client's turns"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=6, help="windows each run is cut into")
    parser.add_argument("--push-mb-s", type=float, default=2.0, help="MB/s said to the stalled one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backpressure-") as tmp:
        found = run(args, Path(tmp))
    print_table(found)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
