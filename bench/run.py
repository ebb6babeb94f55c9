# ruff: noqa: E501  (tables and plot calls read better on one line)
"""`make bench`: every benchmark in turn, then one summary row per goal of issue 10.

Each benchmark is its own process (its own NATS, Postgres and services); sizes are chosen so
the whole suite fits in about 15 minutes on a 2-CPU machine. `--only NAME ...` runs a few.

    .venv/bin/python bench/run.py [--only turn_latency throughput]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, machine

BENCH = Path(__file__).parent
SUITE: dict[str, list[str]] = {
    "turn_latency": ["--turns", "600", "--rounds", "3"],
    "throughput": ["--users", "200", "--seconds", "15", "--dialogs", "2"],
    "connections": ["--connections", "10000", "--clients", "4"],
    "big_brain": ["--questions", "300", "--projects", "2"],
    "telemetry_ingest": ["--samples", "20000", "--robots", "50"],
    "cross_gateway": ["--messages", "400"],
    "peer_besser": ["--users", "50", "--seconds", "15"],
    "backpressure": ["--clients", "300", "--seconds", "20", "--rounds", "2"],
    "engines": ["--rounds", "5"],
}
LIMIT_S = 1200.0  # a benchmark still running after this is stopped (and counted failed)
GRACE_S = 90.0  # after SIGTERM, time a benchmark has to stop its servers before SIGKILL


def run_one(command: list[str], *, limit_s: float) -> int:
    """Run one benchmark in a session of its own, within `limit_s`; on a timeout, or when
    this process is told to stop, it gets SIGTERM (it stops its servers) and, after GRACE_S,
    SIGKILL for everything left in its session. Its exit code (124: timed out)."""
    child = subprocess.Popen(command, start_new_session=True)
    try:
        return child.wait(limit_s)
    except subprocess.TimeoutExpired:
        print(f"timed out after {limit_s:.0f} s: stopping it", flush=True)
        stop(child)
        return 124
    except BaseException:
        stop(child)
        raise


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the child's whole session after GRACE_S."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        print(f"still running {GRACE_S:.0f} s after SIGTERM: killed", flush=True)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def summary(names: list[str], since: dict[str, float]) -> None:
    """The goal rows of each benchmark's JSON written after `since[name]` (0: any)."""
    info = machine()
    print(f"\n== summary ({info['cpus']} CPUs, {info['cpu_model']}, {info['ram_gib']} GiB RAM)")
    print(f"{'goal':<36}{'figure':<34}{'baseline':<32}{'ratio':>8}  {'target':<24}{'met'}")
    print("-" * 142)
    for name in names:
        path = RESULTS / f"{name}.json"
        if not path.exists() or path.stat().st_mtime < since.get(name, 0):
            print(f"{name:<36}{'(no result: it failed, see above)':<34}")
            continue
        for g in json.loads(path.read_text()).get("goals", []):
            ratio = f"{g['ratio']:.2f}" if g["ratio"] is not None else "-"
            met = "-" if g["met"] is None else ("met" if g["met"] else "NOT MET")
            print(
                f"{g['goal']:<36}{g['figure']:<34}{g['baseline']:<32}{ratio:>8}  {g['target']:<24}{met}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SUITE), help="benchmarks to run")
    parser.add_argument("--summary", action="store_true", help="only print the last results")
    parser.add_argument("--limit", type=float, default=LIMIT_S, help="seconds per benchmark")
    args = parser.parse_args()
    names = args.only or list(SUITE)
    if args.summary:
        summary(names, {})
        return
    started, took, since, failed = time.monotonic(), {}, {}, []
    for name in names:
        print(f"\n==> bench/{name}.py {' '.join(SUITE[name])}", flush=True)
        began, since[name] = time.monotonic(), time.time()
        command = [sys.executable, str(BENCH / f"{name}.py"), *SUITE[name]]
        code = run_one(command, limit_s=args.limit)
        took[name] = time.monotonic() - began
        print(f"<== {name}: {took[name]:.0f} s" + (f", exit {code}" if code else ""), flush=True)
        if code:
            failed.append(name)
    summary(names, since)
    print(
        f"\nmake bench: {time.monotonic() - started:.0f} s in all"
        + (f"; failed: {failed}" if failed else "")
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
