"""What every benchmark shares: a stack with an echo bot, percentiles, the goal row, the plot.

Each benchmark writes `bench/results/<name>.json` with its raw figures and a `goals` list (one
row per goal of issue 10: figure, baseline, ratio, target, met), and `bench/results/<name>.png`
(latency distributions as CDFs). `bench/run.py` reads the goal rows into one summary table.
"""

import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import websocket

from shared.migrations import upgrade
from tests.support.backends import Backends, embedded_backends
from tests.support.plugin import Stack, TestProject, new_project
from tests.support.services import Service

RESULTS = Path(__file__).parent / "results"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
ECHO_AIML = "<category><pattern>SAY *</pattern><template><star/></template></category>"
STORED = "SELECT count(*) FROM dialog.turns WHERE project_key = $1"


def stop_on_signals() -> None:
    """SIGTERM, SIGINT and SIGHUP end a benchmark through its `finally`s and `with`s, so its
    services, NATS and Postgres are stopped (by default SIGTERM ends the process at once, and
    the servers, in sessions of their own, kept running). A second signal does not interrupt
    the cleanup, whose every step is bounded (bench/run.py kills what is left after a grace).
    """

    def stop(signum: int, _frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        print(f"\n{signal.Signals(signum).name}: stopping the servers", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)


stop_on_signals()  # every benchmark imports this module first


@dataclass(frozen=True)
class Goal:
    """One row of the summary: what was measured against what, and whether the goal is met."""

    goal: str
    figure: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None  # None: not measured (the reason is in `figure`)


def percentiles(seconds: list[float]) -> dict[str, float]:
    """n, mean, p50, p90, p99 and max of latencies given in seconds, in milliseconds."""
    if not seconds:
        return {"n": 0, "mean_ms": 0.0, "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(seconds)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
    cut = cut or ordered * 99
    return {
        "n": len(ordered),
        "mean_ms": statistics.fmean(ordered) * 1000,
        "p50_ms": cut[49] * 1000,
        "p90_ms": cut[89] * 1000,
        "p99_ms": cut[98] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    model = "unknown"
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with Path("/proc/meminfo").open() as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    return {
        "cpus": os.cpu_count() or 0,
        "cpu_model": model,
        "ram_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "load_avg_at_start": os.getloadavg()[0],
    }


def write(name: str, found: dict[str, Any], goals: list[Goal]) -> Path:
    """Write `found` with the machine and the goal rows to bench/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    found = {**found, "machine": machine(), "goals": [asdict(g) for g in goals]}
    path.write_text(json.dumps(found, indent=2) + "\n")
    print_goals(goals)
    drawn = path.with_suffix(".png")
    print(f"\nwritten to {path}" + (f" and {drawn.name}" if drawn.exists() else ""))
    return path


def print_goals(goals: list[Goal]) -> None:
    """The goal rows as a small table."""
    print(f"\n{'goal':<34}{'figure':<30}{'baseline':<30}{'ratio':>8}  {'target':<22}{'met':<6}")
    for g in goals:
        ratio = f"{g.ratio:.2f}" if g.ratio is not None else "-"
        met = "-" if g.met is None else ("yes" if g.met else "NO")
        print(f"{g.goal:<34}{g.figure:<30}{g.baseline:<30}{ratio:>8}  {g.target:<22}{met:<6}")


def plot(name: str, series: dict[str, list[float]], title: str) -> Path:
    """CDFs of latencies (seconds) on a log axis in bench/results/<name>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, seconds in series.items():
        if not seconds:
            continue
        ordered = sorted(s * 1000 for s in seconds)
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        p50 = ordered[len(ordered) // 2]
        ax.plot(ordered, fractions, label=f"{label} (p50 {p50:.2f} ms, n={len(ordered)})")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = RESULTS / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def bars(name: str, found: dict[str, float], ours: list[str], per: int) -> Path:
    """A bar chart of throughputs (samples/s): `ours` keys, then the COPY baselines (rows/s
    divided by `per` rows a sample), in bench/results/<name>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*ours, "baseline_copy_indexed_rows_per_s", "baseline_copy_rows_per_s"]
    values = [found[k] if k in ours else found[k] / per for k in labels]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    ax.barh([k.replace("_", " ") for k in labels], values)
    ax.set_xlabel("samples per second")
    ax.axvline(20_000, color="red", linestyle="--", label="goal 20,000/s")
    ax.legend()
    fig.tight_layout()
    path = RESULTS / f"{name}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


@contextmanager
def running_stack(
    root: Path, *, dialogs: int = 1, gateways: int = 1, telemetry: int = 0, **gateway_env: str
) -> Iterator[Stack]:
    """Embedded NATS and Postgres (migrated) and the service processes, stopped afterwards."""
    with embedded_backends(root) as backends:
        upgrade(backends.database_url)
        stack = Stack(backends, root, gateway_env=dict(gateway_env))
        profilers: list[subprocess.Popen[bytes]] = []
        try:
            stack.start(dialogs=dialogs, gateways=gateways, telemetry=telemetry)
            profilers = profile(stack)
            yield stack
        finally:
            stop_spies(profilers)
            stack.stop()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used, 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


_POSTMASTERS: dict[str, int] = {}


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _postmaster(database_url: str) -> int:
    """The pid of the Postgres server at `database_url` (pg_ctl detaches it from this process
    tree): the parent of a backend it starts for us."""
    if database_url not in _POSTMASTERS:

        async def ask() -> int:
            pg = await asyncpg.connect(database_url)
            try:  # read while the backend lives
                backend = int(await pg.fetchval("SELECT pg_backend_pid()"))
                return _parent(backend)
            finally:
                await pg.close()

        _POSTMASTERS[database_url] = asyncio.run(ask())
    return _POSTMASTERS[database_url]


def _descendants(root: int) -> dict[int, str]:
    """Every process below `root`, by pid, with its command name."""
    parents: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue
        pid = int(entry.name)
        names[pid] = head.partition("(")[2]
        parents.setdefault(int(rest.split()[1]), []).append(pid)
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = names[child]
            todo.append(child)
    return found


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) each service process of `stack` has used so far, by name, and
    what the rest of the machine's work for the benchmark used: `nats` (nats-server), `postgres`
    (its server and backends, summed: a backend that exited is not counted) and `load` (this
    process: the load generator)."""
    used: dict[str, float] = {}
    for s in [*stack.gateways, *stack.dialogs, *stack.telemetry]:
        if s.process is not None:
            used[s.name] = _proc_cpu(s.process.pid)
    used["nats"] = sum(
        _proc_cpu(pid) for pid, name in _descendants(os.getpid()).items() if "nats" in name
    )
    postmaster = _postmaster(stack.backends.database_url)
    used["postgres"] = _proc_cpu(postmaster) + sum(map(_proc_cpu, _descendants(postmaster)))
    used["load"] = sum(os.times()[:2])
    return used


IDLE_S = 5.0  # how long the services' idle CPU is measured before a load


def idle_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds per second each service uses with nothing to do (lease renewals, empty
    pulls), over IDLE_S: what `cpu_per_turn` takes off so that a slower run is not charged
    more per turn for idling longer."""
    before = cpu_seconds(stack)
    time.sleep(IDLE_S)
    after = cpu_seconds(stack)
    return {name: (after[name] - before.get(name, 0.0)) / IDLE_S for name in after}


def cpu_per_turn(
    before: dict[str, float],
    after: dict[str, float],
    turns: int,
    *,
    idle: dict[str, float] | None = None,
    seconds: float = 0.0,
) -> dict[str, Any]:
    """CPU milliseconds per turn of each service process between two `cpu_seconds` (less its
    `idle` rate over those `seconds`), and of all the dialog replicas and all the gateways."""
    idle = idle or {}
    each = {
        name: (after[name] - before.get(name, 0.0) - idle.get(name, 0.0) * seconds)
        * 1000
        / max(turns, 1)
        for name in after
    }
    backing: dict[str, float] = {k: each.pop(k) for k in ("nats", "postgres", "load") if k in each}
    return {
        "dialog": sum(v for k, v in each.items() if k.startswith("dialog")),
        "gateway": sum(v for k, v in each.items() if k.startswith("gateway")),
        "each": each,
        **backing,
    }


def print_cpu(cpu: dict[str, Any]) -> None:
    print(
        f"CPU per turn: dialog {cpu['dialog']:.2f} ms, gateway {cpu['gateway']:.2f} ms ("
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu["each"].items()))
        + ")"
        + "".join(f", {k} {cpu[k]:.2f}" for k in ("nats", "postgres", "load") if k in cpu)
    )


def profile(stack: Stack) -> list[subprocess.Popen[bytes]]:
    """With BENCH_PYSPY=<dir>, a py-spy recorder on every service process, each writing
    <dir>/<service>.txt (collapsed stacks: flamegraph.pl, speedscope) as the stack stops."""
    return spy_on([*stack.gateways, *stack.dialogs, *stack.telemetry])


def spy_on(services: list[Service], suffix: str = "") -> list[subprocess.Popen[bytes]]:
    """With BENCH_PYSPY=<dir>, a py-spy recorder on each of `services` (for benchmarks that
    start their services themselves), writing <dir>/<service><suffix>.txt when stopped with
    `stop_spies`."""
    into = os.environ.get("BENCH_PYSPY")
    if not into:
        return []
    Path(into).mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(s.process.pid),
                "--rate",
                "250",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                f"{into}/{s.name}{suffix}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for s in services
        if s.process is not None
    ]


def stop_spies(profilers: list[subprocess.Popen[bytes]]) -> None:
    """Stop py-spy recorders; each writes its stacks on SIGINT."""
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)


def echo_project(stack: Stack, aiml: str = ECHO_AIML) -> TestProject:
    """A new project whose bot echoes `say <x>` (saved through XPARO's save_aiml)."""
    project = new_project(stack.backends)
    ws = websocket.create_connection(stack.ws_url(project), timeout=60)
    try:
        ws.send(json.dumps({"save_aiml": aiml}))
        saved = json.loads(ws.recv())
        assert saved["save_aiml"]["status"] is True, saved
    finally:
        ws.close()
    return project


def stored_turns(backends: Backends, project: TestProject) -> int:
    """Transcript rows the dialog committed for `project`."""

    async def count() -> int:
        pg = await asyncpg.connect(backends.database_url)
        try:
            return int(await pg.fetchval(STORED, project.key))
        finally:
            await pg.close()

    return asyncio.run(count())


def wait_stored(backends: Backends, project: TestProject, turns: int, within_s: float = 60) -> int:
    """Wait until `turns` transcript rows are committed (or `within_s`); how many there are."""
    deadline = time.monotonic() + within_s
    found = stored_turns(backends, project)
    while found < turns and time.monotonic() < deadline:
        time.sleep(0.1)
        found = stored_turns(backends, project)
    return found


def helper(*args: str) -> subprocess.Popen[bytes]:
    """Start `bench/baselines.py <args>` (a baseline server) and wait for its "ready" line."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "baselines.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(b"ready"):
        process.kill()
        raise RuntimeError(f"baseline {args} did not start: {line!r}")
    return process
