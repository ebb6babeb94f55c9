# ruff: noqa: E501  (tables and plot calls read better on one line)
"""Cross-gateway delivery: a message for a socket on another gateway replica vs on this one.

Starts embedded NATS and Postgres, a dialog replica and two gateways. Two XPARO sockets of one
project: session `here` on gateway 1, session `there` on gateway 2. An operator says something
through gateway 1's admin API (`POST /admin/projects/<key>/sessions/<session>/messages`: the
gateway asks the dialog, which stores it and publishes it on the session's reply subject), and
the time until the socket reads it is measured, alternating between the two sessions. The
message that crosses goes to gateway 2 by NATS interest; the added p50 is `there - here`.
Goal: <= 0.3 ms.

    .venv/bin/python bench/cross_gateway.py [--messages 400]
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import httpx
import websocket
from common import Goal, echo_project, percentiles, plot, running_stack, write

from shared.db import opened
from shared.identity import TokenStore
from tests.support.plugin import Stack, TestProject

NAME = "cross_gateway"
WARM = 20


def admin_token(stack: Stack) -> str:
    async def create() -> str:
        async with opened(stack.backends.database_url) as database:
            made = await TokenStore(database).create_admin(f"bench-{uuid4().hex}", projects=None)
            return made.secret

    return asyncio.run(create())


def socket_of(
    stack: Stack, project: TestProject, session: str, replica: int
) -> websocket.WebSocket:
    ws = websocket.create_connection(
        stack.ws_url(project, query=f"session_id={session}", replica=replica), timeout=30
    )
    ws.send(json.dumps({"ask_bot": f"say {session}"}))  # the session exists from now on
    assert json.loads(ws.recv())["message"]["bot_response"] == session
    return ws


def measure(stack: Stack, project: TestProject, messages: int) -> dict[str, list[float]]:
    sockets = {
        "here": socket_of(stack, project, "here", 0),
        "there": socket_of(stack, project, "there", 1),
    }
    headers = {"Authorization": f"Bearer {admin_token(stack)}"}
    series: dict[str, list[float]] = {"here": [], "there": []}
    with httpx.Client(base_url=stack.http_url(0), headers=headers, timeout=30) as http:
        for n in range(-WARM, messages):
            for session, ws in sockets.items():
                url = f"/admin/projects/{project.key}/sessions/{session}/messages"
                started = time.perf_counter()
                sent = http.post(url, json={"text": f"m{n}"})
                assert sent.status_code == 202, sent.text
                frame = ws.recv()
                took = time.perf_counter() - started
                assert f"m{n}" in frame, frame
                if n >= 0:
                    series[session].append(took)
    for ws in sockets.values():
        ws.close()
    return series


def figures(series: dict[str, list[float]]) -> tuple[dict, list[Goal]]:
    here, there = percentiles(series["here"]), percentiles(series["there"])
    added = there["p50_ms"] - here["p50_ms"]
    result = {"same_gateway": here, "other_gateway": there, "added_p50_ms": added}
    goal = Goal(
        goal="6 cross-gateway added p50",
        figure=f"+{added:.3f} ms ({there['p50_ms']:.2f} vs {here['p50_ms']:.2f})",
        baseline=f"same gateway {here['p50_ms']:.2f} ms",
        ratio=there["p50_ms"] / here["p50_ms"],
        target="<= +0.3 ms",
        met=added <= 0.3,
    )
    return result, [goal]


def print_table(result: dict) -> None:
    print("\ncross-gateway delivery: operator message via gateway 1's admin API → socket")
    print(f"{'socket on':<20}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
    for name, key in (("gateway 1 (same)", "same_gateway"), ("gateway 2 (other)", "other_gateway")):
        row = result[key]
        print(
            f"{name:<20}{row['n']:>6}{row['p50_ms']:>10.2f}{row['p90_ms']:>10.2f}{row['p99_ms']:>10.2f}"
        )
    print(f"added p50: {result['added_p50_ms']:+.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per socket")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-cross-") as tmp,
        running_stack(Path(tmp), gateways=2) as stack,
    ):
        project = echo_project(stack)
        series = measure(stack, project, args.messages)
    result, goals = figures(series)
    print_table(result)
    plot(NAME, {"socket on the same gateway": series["here"], "socket on another gateway": series["there"]},
         "Operator message → socket: same vs other gateway replica")  # fmt: skip
    write(NAME, result, goals)


if __name__ == "__main__":
    main()
