"""Turn latency: one XPARO client asking one question after another, through the full stack.

Starts embedded NATS and Postgres, a dialog replica and a gateway, and an echo bot. One
websocket-client socket (the library XPARO's own Python client uses) sends `ask_bot` and reads
the answer, `--turns` times: gateway → JetStream → dialog (session row locked, transcript row
written, committed) → reply → gateway → socket. The transcript is checked to hold every turn.

Baseline, measured in the same run, in rounds alternating with the stack's: the sum of the p50s
of (a) a round trip of the same frame to a bare `websockets` echo server in its own process,
(b) a nats-py request/reply to a bare responder process on the same NATS server, and (c) an
in-process python-aiml `respond` of the same question. Goal: p50 <= 1.5x that sum.

    .venv/bin/python bench/turn_latency.py [--turns 600] [--rounds 3]
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiml
import nats
import websocket
from common import (
    ECHO_AIML,
    Goal,
    cpu_per_turn,
    cpu_seconds,
    echo_project,
    helper,
    idle_cpu,
    percentiles,
    plot,
    print_cpu,
    running_stack,
    wait_stored,
    write,
)

from shared.devstack.embedded import free_port
from tests.support.plugin import Stack, TestProject

NAME = "turn_latency"
WARM = 30


def ask_turns(url: str, turns: int, offset: int) -> list[float]:
    """Seconds per ask_bot → answer on one socket (after a few unmeasured turns)."""
    ws = websocket.create_connection(url, timeout=30)
    took = []
    try:
        for n in range(-WARM, turns):
            started = time.perf_counter()
            ws.send(json.dumps({"ask_bot": f"say t{offset + n}"}))
            answer = json.loads(ws.recv())
            if n >= 0:
                took.append(time.perf_counter() - started)
            assert answer.get("message", {}).get("bot_response") == f"t{offset + n}", answer
    finally:
        ws.close()
    return took


def echo_turns(url: str, turns: int) -> list[float]:
    """Seconds per round trip of an ask_bot frame to a bare websockets echo server."""
    ws = websocket.create_connection(url, timeout=30)
    took = []
    try:
        for n in range(-WARM, turns):
            frame = json.dumps({"ask_bot": f"say t{n}"})
            started = time.perf_counter()
            ws.send(frame)
            json.loads(ws.recv())
            if n >= 0:
                took.append(time.perf_counter() - started)
    finally:
        ws.close()
    return took


async def nats_turns(url: str, subject: str, turns: int) -> list[float]:
    """Seconds per nats-py request/reply to a bare responder."""
    nc = await nats.connect(url)
    took = []
    try:
        for n in range(-WARM, turns):
            started = time.perf_counter()
            await nc.request(subject, b'{"text": "say t%d"}' % n, timeout=5)
            if n >= 0:
                took.append(time.perf_counter() - started)
    finally:
        await nc.close()
    return took


def aiml_turns(root: Path, turns: int) -> list[float]:
    """Seconds per in-process python-aiml respond of the same question to the same bot."""
    source = root / "echo.aiml"
    source.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><aiml version="1.0">{ECHO_AIML}</aiml>'
    )
    kernel = aiml.Kernel()
    kernel.verbose(False)
    kernel.learn(str(source))
    took = []
    for n in range(-WARM, turns):
        started = time.perf_counter()
        kernel.respond(f"say t{n}", "bench")
        if n >= 0:
            took.append(time.perf_counter() - started)
    return took


def measure(stack: Stack, project: TestProject, args: argparse.Namespace, root: Path) -> dict:
    port, subject = free_port(), "bench.echo"
    servers = [helper("ws-echo", str(port)), helper("nats-echo", stack.backends.nats_url, subject)]
    series: dict[str, list[float]] = {
        "switchboard": [],
        "ws echo": [],
        "nats req/reply": [],
        "aiml": [],
    }
    per_round = args.turns // args.rounds
    idle = idle_cpu(stack)
    before, started = cpu_seconds(stack), time.monotonic()
    try:
        for r in range(args.rounds):
            series["ws echo"] += echo_turns(f"ws://127.0.0.1:{port}/", per_round)
            series["nats req/reply"] += asyncio.run(
                nats_turns(stack.backends.nats_url, subject, per_round)
            )
            series["aiml"] += aiml_turns(root, per_round)
            series["switchboard"] += ask_turns(stack.ws_url(project), per_round, r * 100_000)
    finally:
        for server in servers:
            server.kill()
    asked = (per_round + WARM) * args.rounds
    stored = wait_stored(stack.backends, project, asked)
    cpu = cpu_per_turn(  # the services idle on the other paths
        before, cpu_seconds(stack), asked, idle=idle, seconds=time.monotonic() - started
    )
    return {"series": series, "asked": asked, "stored": stored, "cpu": cpu}


def figures(measured: dict) -> tuple[dict, list[Goal]]:
    found = {name: percentiles(s) for name, s in measured["series"].items()}
    base = sum(found[k]["p50_ms"] for k in ("ws echo", "nats req/reply", "aiml"))
    ours = found["switchboard"]["p50_ms"]
    ratio = ours / base
    result = {
        "latency": found,
        "baseline_sum_p50_ms": base,
        "ratio_p50_to_baseline_sum": ratio,
        "turns_asked": measured["asked"],
        "turns_stored": measured["stored"],
        "cpu_ms_per_turn": measured["cpu"],
    }
    goal = Goal(
        goal="1 turn latency p50",
        figure=f"{ours:.2f} ms (p99 {found['switchboard']['p99_ms']:.1f})",
        baseline=f"{base:.2f} ms (ws+nats+aiml)",
        ratio=ratio,
        target="<= 3x baseline (goal 1.5x)",  # issue 21's bar, and the goal beyond it
        met=ratio <= 3 and measured["stored"] == measured["asked"],
    )
    return result, [goal]


def print_table(result: dict) -> None:
    print(f"\nturn latency: {result['turns_asked']} turns asked, {result['turns_stored']} stored")
    print(f"{'path':<20}{'n':>7}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print("-" * 67)
    for name, row in result["latency"].items():
        print(
            f"{name:<20}{row['n']:>7}{row['p50_ms']:>10.3f}{row['p90_ms']:>10.3f}"
            f"{row['p99_ms']:>10.3f}{row['max_ms']:>10.3f}"
        )
    print(f"{'baseline sum of p50s':<37}{result['baseline_sum_p50_ms']:>10.3f}")
    print(f"{'ratio switchboard / baseline sum':<37}{result['ratio_p50_to_baseline_sum']:>10.2f}")
    print_cpu(result["cpu_ms_per_turn"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=600, help="measured turns per path")
    parser.add_argument("--rounds", type=int, default=3, help="rounds the paths alternate in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        root = Path(tmp)
        # The per-socket frame rate limit is there to stop abuse; one client asking turn after
        # turn as fast as the stack answers (350/s here) would meet it and be refused.
        with running_stack(root, GATEWAY_FRAME_RATE="0") as stack:
            project = echo_project(stack)
            measured = measure(stack, project, args, root)
    result, goals = figures(measured)
    print_table(result)
    plot(NAME, measured["series"], "Turn latency: full stack vs its parts (sequential, one client)")
    write(NAME, result, goals)


if __name__ == "__main__":
    main()
