"""Throughput: concurrent sessions (XPARO only, then five protocols), every turn persisted.

Starts embedded NATS and Postgres, `--dialogs` dialog replicas and one gateway (per-socket and
per-project rate limits off: they are there to stop abuse, and this is one client process
asking as fast as it can), and echo bots. `--users` users (the chaos suite's load generator,
tests/chaos/load.py: XPARO command API, XPARO typed API with a telemetry sample per turn, AIDA
Phoenix channels with a bot each, BESSER, RSVP.ai over HTTP) each ask, wait for the answer and
ask again at once (closed loop). After `--warm` seconds, turns answered in `--seconds` are
counted; afterwards the transcript must hold every answered turn.

Two loads run one after the other on the same stack (issue 21's two goals): `--users` XPARO
users (>= 5,000 turns/s with p99 <= 50 ms), then `--users` spread over the five protocols
(>= 3,000 turns/s with p99 <= 100 ms). The load generator runs in this process on the same
CPUs. The goals are absolute (there is no baseline of the whole stack to divide by; the ratio
printed is turns/s over the goal).

    .venv/bin/python bench/throughput.py [--users 200] [--seconds 15] [--dialogs 2] [--only mix]

`--protocols rsvp,aida` gives the mix's users only those protocols (to see what one protocol's
turns cost in each process: `--only mix --protocols rsvp`).
"""

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import uvloop
from common import (
    Goal,
    cpu_per_turn,
    cpu_seconds,
    echo_project,
    idle_cpu,
    percentiles,
    plot,
    print_cpu,
    running_stack,
    write,
)

from tests.chaos.load import PROTOCOLS, Bot, Gateway, Load
from tests.support.plugin import Stack

NAME = "throughput"
UNLIMITED = {"GATEWAY_FRAME_RATE": "0", "GATEWAY_PROJECT_TURN_RATE": "0"}


# name: (protocols, goal turns/s, goal p99 ms)
SHAPES: dict[str, tuple[tuple[str, ...], int, int]] = {
    "xparo": (("xparo",), 5000, 50),
    "mix": (PROTOCOLS, 3000, 100),
}


async def run_load(
    gateway: Gateway, bots: list[Bot], args: argparse.Namespace, protocols: tuple[str, ...]
) -> dict:
    """Closed-loop load for warm + seconds; answers and latencies of the measured window."""
    load = Load([gateway], bots, args.users, pace_s=0.0, answer_wait_s=30, protocols=protocols)

    async def settled() -> bool:
        return len(load.tally.answers) >= len(load.tally.sent)

    async with load.running(settled, drain_s=15):
        await asyncio.sleep(args.warm)
        first, started = len(load.tally.latencies), time.perf_counter()
        await asyncio.sleep(args.seconds)
        last, took = len(load.tally.latencies), time.perf_counter() - started
    tally = load.tally
    return {
        "latencies": tally.latencies[first:last],
        "seconds": took,
        "sent": len(tally.sent),
        "answered": len(tally.answers),
        "duplicated": sum(1 for n in tally.answers.values() if n > 1),
        "refused": dict(tally.refused),
        "reconnects": dict(tally.reconnects),
        "sent_per_protocol": dict(Counter(tally.sent.values())),
    }


async def stored(database_url: str, bots: list[Bot]) -> int:
    pg = await asyncpg.connect(database_url)
    try:
        keys = [b.key for b in bots]
        sql = "SELECT count(*) FROM dialog.turns WHERE project_key = ANY($1::uuid[])"
        return int(await pg.fetchval(sql, keys))
    finally:
        await pg.close()


def measure(stack: Stack, args: argparse.Namespace, protocols: tuple[str, ...]) -> dict:
    bots_needed = 1 + -(-args.users // len(protocols))  # AIDA users get a bot each
    projects = [echo_project(stack) for _ in range(bots_needed)]
    bots = [Bot(p.key, p.secret) for p in projects]
    gateway = Gateway(stack.http_url(), stack.besser_url().rstrip("/"))
    idle = idle_cpu(stack)
    before, started = cpu_seconds(stack), time.monotonic()
    found = uvloop.run(run_load(gateway, bots, args, protocols))
    found["cpu_ms_per_turn"] = cpu_per_turn(
        before,
        cpu_seconds(stack),
        found["answered"],
        idle=idle,
        seconds=time.monotonic() - started,
    )
    found["stored"] = asyncio.run(stored(stack.backends.database_url, bots))
    return found


def shape_protocols(args: argparse.Namespace, shape: str) -> tuple[str, ...]:
    """The shape's protocols, or those given with --protocols for the mix."""
    if shape == "mix" and args.protocols:
        return tuple(args.protocols.split(","))
    return SHAPES[shape][0]


def figures(found: dict, args: argparse.Namespace, shape: str) -> tuple[dict, list[Goal]]:
    _, goal_rate, goal_p99 = SHAPES[shape]
    protocols = shape_protocols(args, shape)
    latency = percentiles(found["latencies"])
    rate = latency["n"] / found["seconds"]
    result = {
        "shape": shape,
        "protocols": list(protocols),
        "users": args.users,
        "dialogs": args.dialogs,
        "turns_per_s": rate,
        "latency": latency,
        **{k: v for k, v in found.items() if k != "latencies"},
    }
    ok = found["stored"] >= found["answered"] and found["duplicated"] == 0
    goals = [
        Goal(
            goal=f"2 throughput, {args.users} {'XPARO' if shape == 'xparo' else 'mixed'} users",
            figure=f"{rate:,.0f} turns/s, p99 {latency['p99_ms']:.0f} ms",
            baseline=f"goal {goal_rate:,} turns/s",
            ratio=rate / goal_rate,
            target=f">= {goal_rate}/s, p99 <= {goal_p99} ms",
            met=rate >= goal_rate and latency["p99_ms"] <= goal_p99 and ok,
        )
    ]
    return result, goals


def print_table(result: dict) -> None:
    lat = result["latency"]
    print(
        f"\nthroughput: {result['users']} users over {', '.join(result['protocols'])}; "
        f"{result['dialogs']} dialog replicas, 1 gateway"
    )
    print(f"{'turns/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(
        f"{result['turns_per_s']:>10,.0f}{lat['p50_ms']:>10.1f}{lat['p90_ms']:>10.1f}"
        f"{lat['p99_ms']:>10.1f}{lat['max_ms']:>10.1f}"
    )
    print(
        f"sent {result['sent']:,}, answered {result['answered']:,}, stored {result['stored']:,}, "
        f"duplicated {result['duplicated']}, refused {result['refused']}, "
        f"reconnects {result['reconnects']}"
    )
    print_cpu(result["cpu_ms_per_turn"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="concurrent sessions")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window")
    parser.add_argument("--warm", type=float, default=4.0, help="seconds before it")
    parser.add_argument("--dialogs", type=int, default=2, help="dialog replicas")
    parser.add_argument("--only", choices=sorted(SHAPES), help="one load instead of both")
    parser.add_argument("--protocols", help="the mix over only these (comma-separated)")
    args = parser.parse_args()
    unknown = set((args.protocols or "").split(",")) - {"", *PROTOCOLS}
    if unknown:
        parser.error(f"unknown protocols {sorted(unknown)}: choose among {', '.join(PROTOCOLS)}")
    shapes = [args.only] if args.only else list(SHAPES)
    found: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp,
        running_stack(Path(tmp), dialogs=args.dialogs, **UNLIMITED) as stack,
    ):
        for shape in shapes:
            found[shape] = measure(stack, args, shape_protocols(args, shape))
    results, goals = {}, []
    for shape in shapes:
        results[shape], rows = figures(found[shape], args, shape)
        goals += rows
        print_table(results[shape])
    plot(
        NAME,
        {shape: found[shape]["latencies"] for shape in shapes},
        f"Turn latency under load ({args.users} users)",
    )
    write(NAME, results, goals)


if __name__ == "__main__":
    main()
