"""`make run` (python -m shared.devstack) as a user runs it: started until it says it is ready,
stopped with Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

READY = "Switchboard is ready"


WHY = ("ERROR", "WARNING", "Traceback", "Error", "exited", "exit code")  # what a failed start says


def start(data: Path, ports: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `make run`'s devstack on `data` and `ports` (its output appended to `log`); fail
    with what it said if it is not ready within 90 s."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env.update(ports, SWITCHBOARD_DATA=str(data))
    seen = log.stat().st_size if log.exists() else 0
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.devstack"],
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while READY.encode() not in log.read_bytes()[seen:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            text = log.read_text()
            why = [line for line in text.splitlines() if any(w in line for w in WHY)]
            pytest.fail(
                "make run did not become ready:\n" + "\n".join(why[-40:]) + "\n…\n" + text[-3000:]
            )
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen[bytes], data: Path) -> None:
    """Ctrl-C it, as a user would: it exits 0 and leaves no process of `data` behind."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    left = [
        p.info
        for p in psutil.process_iter(["pid", "cmdline"])
        if str(data) in " ".join(p.info["cmdline"] or [])
    ]
    assert left == [], left
