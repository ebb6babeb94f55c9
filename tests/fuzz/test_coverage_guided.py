"""Coverage-guided fuzz of each socket adapter (coverage_guided.py, ATHERIS_RUNS inputs each)."""

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

RUNS = int(os.environ.get("ATHERIS_RUNS", "2000"))
ROOT = Path(__file__).resolve().parents[2]


def _rss_limit_mb() -> int:
    """libFuzzer's memory limit: its default 2 GiB above the peak this process reached. Linux
    hands a child this process's peak RSS (ru_maxrss survives fork and exec), and libFuzzer
    reads that as its own: after a long hypothesis run in the same pytest process, every
    fuzzer "ran out of memory" on its first input (seen in make chaos)."""
    return 2048 + resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _fuzz(target: str, runs: int, where: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.fuzz.coverage_guided", target, f"-runs={runs}"]
    command += [f"-artifact_prefix={where}/", f"-rss_limit_mb={_rss_limit_mb()}"]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=3000, check=False
    )


@pytest.mark.parametrize("target", ["xparo", "typed", "aida1", "aida2", "besser"])
def test_mutated_frames_never_break_an_adapter(target: str, tmp_path: Path) -> None:
    """ATHERIS_RUNS byte-mutated frames, steered towards unrun code: no exception escapes and
    every answer is in the protocol's shape (libFuzzer exits 0 and saves no crash input)."""
    run = _fuzz(target, RUNS, tmp_path)
    print(run.stderr.splitlines()[-1] if run.stderr else "")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Done {RUNS} runs" in run.stderr
    assert not list(tmp_path.glob("crash-*"))


def test_a_failing_check_stops_the_run_and_keeps_the_input(tmp_path: Path) -> None:
    """The harness is not blind: a check that fails on some frame ends the run non-zero and
    leaves that frame in a crash file."""
    run = _fuzz("broken", 1000, tmp_path)
    assert run.returncode != 0
    assert "an object" in run.stdout + run.stderr
    assert [p.read_bytes()[:2] for p in tmp_path.glob("crash-*")] == [b"\x00{"]
