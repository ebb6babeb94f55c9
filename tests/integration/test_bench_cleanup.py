"""A benchmark told to stop (`make bench` stopped, a timeout in bench/run.py) stops the servers
it started: its NATS, its Postgres and the service processes."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a benchmark does: a stack from bench/common.py, then a long measurement.
BENCH = """
import json, sys, threading
from pathlib import Path
from common import running_stack
with running_stack(Path(sys.argv[1]), dialogs=1) as stack:
    pids = [s.process.pid for s in [*stack.gateways, *stack.dialogs]]
    print(json.dumps(pids), flush=True)
    threading.Event().wait()
"""


def servers_under(root: Path) -> list[psutil.Process]:
    """Processes whose command line names `root` (the bench's NATS and Postgres)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(root) in arg for arg in process.info["cmdline"] or []):
            found.append(process)
    return found


def alive(pids: list[int]) -> list[int]:
    return [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after up to `seconds` (polled: they are not our children)."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


@pytest.fixture
def bench_root() -> Iterator[Path]:
    """The bench's folder, in /tmp as a benchmark's is (pytest's own tmp_path is under a 0700
    folder that every pytest start resets, which the embedded Postgres's own user then cannot
    reach); anything it started that is still running afterwards is killed."""
    with tempfile.TemporaryDirectory(prefix="bench-cleanup-") as root:
        yield Path(root)
        for process in servers_under(Path(root)):
            process.kill()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_benchmark_stopped_by_a_signal_stops_its_nats_postgres_and_services(
    bench_root: Path, sig: signal.Signals
) -> None:
    """SIGTERM (or SIGINT) to a benchmark running its stack: it exits, and its NATS, Postgres,
    gateway and dialog processes are gone with it (SIGTERM used to end the process at once and
    leave all of them running)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"}
    bench = subprocess.Popen(
        [sys.executable, "-c", BENCH, str(bench_root)], stdout=subprocess.PIPE, env=env, cwd=ROOT
    )
    assert bench.stdout is not None
    line = bench.stdout.readline()
    assert line, "the benchmark's stack did not start"
    services = json.loads(line)
    try:
        servers = [p.pid for p in servers_under(bench_root) if p.pid != bench.pid]
        assert len(servers) >= 2, "expected the bench's NATS and Postgres"
        assert alive([*services, *servers]) == [*services, *servers]
        bench.send_signal(sig)
        assert bench.wait(120) == 128 + sig
        assert gone_within([*services, *servers], 30) == []
    finally:
        for pid in alive(services):  # left behind by a failure: the test started them
            psutil.Process(pid).kill()
