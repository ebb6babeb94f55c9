# ruff: noqa: E501  (tables and plot calls read better on one line)
"""Peer: the BESSER Agentic Framework's own WebSocket platform vs Switchboard's BESSER adapter.

Installs `besser-agentic-framework` (pinned) into its own virtualenv, bench/.peer-venv (made
once, reused; `--venv` elsewhere), and runs an echo agent on BAF's WebSocket platform
(bench/peer_agent.py). The same closed-loop load (the chaos suite's BESSER client, `--users`
sessions asking `say <token>` and waiting for the answer) runs against it and then against
Switchboard's BESSER port (a gateway, two dialog replicas, every turn persisted). Goal:
Switchboard >= 5x the peer's turns/s at a lower p99.

    .venv/bin/python bench/peer_besser.py [--users 50] [--seconds 15]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop
from common import Goal, percentiles, plot, running_stack, write
from throughput import UNLIMITED, run_load
from throughput import measure as switchboard_load

from shared.devstack.embedded import free_port
from tests.chaos.load import Bot, Gateway

NAME = "peer_besser"
BESSER_ONLY = ("besser",)  # every user speaks BESSER, to both servers
PEER = "besser-agentic-framework==4.5.3"


def isolated() -> dict[str, str]:
    """The environment of the peer's processes: none of this project's Python settings. `make
    bench` puts the repo on PYTHONPATH, and with it switchboard.egg-info, so the peer's pip saw
    this project and warned about each of its requirements missing from the peer's venv."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "PIP_")) and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")
    }


def peer_venv(path: Path) -> Path:
    """The peer's own venv: no system site packages, made and used in isolated mode (`-I`: no
    PYTHON* variables, no script or current directory on the path) from outside the repo."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"installing {PEER} into {path} (once)", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-peer-venv-") as outside:
            subprocess.run([sys.executable, "-I", "-m", "venv", str(path.resolve())],
                           check=True, env=isolated(), cwd=outside)  # fmt: skip
            subprocess.run([str(python.resolve()), "-I", "-m", "pip", "install", "--quiet", PEER],
                           check=True, env=isolated(), cwd=outside, timeout=1800)  # fmt: skip
    return python


def peer(python: Path, args: argparse.Namespace, root: Path) -> dict:
    port = free_port()
    log = (root / "peer.log").open("wb")
    agent = subprocess.Popen([str(python.resolve()), "-I", str(Path(__file__).with_name("peer_agent.py").resolve()), str(port)],
                             stdout=log, stderr=log, cwd=root, env=isolated())  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        bot = Bot(key=__import__("uuid").uuid4(), secret="unused")  # noqa: S106 (the peer has no secrets)
        gateway = Gateway(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
        return uvloop.run(run_load(gateway, [bot], args, BESSER_ONLY))
    finally:
        agent.kill()
        agent.wait()


def figures(theirs: dict, ours: dict) -> tuple[dict, list[Goal]]:
    t, o = percentiles(theirs["latencies"]), percentiles(ours["latencies"])
    t_rate, o_rate = t["n"] / theirs["seconds"], o["n"] / ours["seconds"]
    ratio = o_rate / t_rate if t_rate else None
    result = {
        "besser_peer": {"turns_per_s": t_rate, "latency": t, "sent": theirs["sent"], "answered": theirs["answered"]},
        "switchboard": {"turns_per_s": o_rate, "latency": o, "sent": ours["sent"], "answered": ours["answered"], "stored": ours["stored"]},
        "ratio_turns_per_s": ratio,
    }  # fmt: skip
    goal = Goal(
        goal="7 vs BESSER peer (throughput)",
        figure=f"{o_rate:,.0f}/s, p99 {o['p99_ms']:.0f} ms",
        baseline=f"BAF {t_rate:,.0f}/s, p99 {t['p99_ms']:.0f} ms",
        ratio=ratio,
        target=">= 5x, lower p99",
        met=ratio is not None and ratio >= 5 and o["p99_ms"] < t["p99_ms"],
    )
    return result, [goal]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent BESSER sessions")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window")
    parser.add_argument("--warm", type=float, default=4.0, help="seconds before it")
    parser.add_argument("--venv", type=Path, default=Path(__file__).with_name(".peer-venv"))
    args = parser.parse_args()
    args.dialogs = 2
    python = peer_venv(args.venv)
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        theirs = peer(python, args, Path(tmp))
        with running_stack(Path(tmp), dialogs=2, **UNLIMITED) as stack:
            ours = switchboard_load(stack, args, BESSER_ONLY)
    result, goals = figures(theirs, ours)
    print(f"\npeer: {args.users} BESSER sessions, closed loop, {args.seconds:g} s")
    for name in ("besser_peer", "switchboard"):
        row = result[name]
        print(
            f"{name:<14}{row['turns_per_s']:>10,.0f} turns/s  p50 {row['latency']['p50_ms']:.1f} ms  p99 {row['latency']['p99_ms']:.1f} ms"
        )
    plot(NAME, {"BESSER Agentic Framework 4.5.3": theirs["latencies"], "Switchboard BESSER adapter": ours["latencies"]},
         f"BESSER WebSocket: {args.users} sessions, closed loop")  # fmt: skip
    write(NAME, result, goals)


if __name__ == "__main__":
    main()
