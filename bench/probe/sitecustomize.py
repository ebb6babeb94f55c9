"""Loaded by a service started with bench/probe on its PYTHONPATH and SOCKET_MEMORY_DIR set:
SIGUSR1 starts tracemalloc (first time) and dumps a snapshot to that folder."""

import gc
import os
import signal
import tracemalloc
from pathlib import Path

_taken = [0]


def _snapshot(_signum: int, _frame: object) -> None:
    gc.collect()
    if not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("SOCKET_MEMORY_FRAMES", "15")))
    path = f"{os.environ['SOCKET_MEMORY_DIR']}/snap{_taken[0]}.pickle"
    tracemalloc.take_snapshot().dump(path)
    _taken[0] += 1
    Path(path + ".done").touch()  # the benchmark waits for it


if os.environ.get("SOCKET_MEMORY_DIR"):
    signal.signal(signal.SIGUSR1, _snapshot)
