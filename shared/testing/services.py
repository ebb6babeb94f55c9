"""Service processes for integration tests (synchronous: tests use real blocking clients)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.devstack.embedded import free_port


@dataclass
class Service:
    """One running `python -m services.<module>` with its log in `log_dir`."""

    module: str
    env: dict[str, str]
    log_dir: Path
    name: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> "Service":
        self.name = self.name or self.module
        log = (self.log_dir / f"{self.name}.log").open("ab")
        env = {**os.environ, **self.env, f"{self.module.upper()}_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.module}"], env=env, stdout=log, stderr=log
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.log_dir / f"{self.name}.log").read_text(errors="replace")[-3000:]

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop with `sig` (SIGKILL simulates a crash) and wait for the exit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
