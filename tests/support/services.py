"""Service processes for integration tests (synchronous: tests use real blocking clients)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.devstack.embedded import free_port, port_free

PORT_RACES = 3
ADDRESS_IN_USE = "address already in use"


@dataclass
class Service:
    """One running `python -m services.<module>` with its log in `log_dir`."""

    module: str
    env: dict[str, str]
    log_dir: Path
    name: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0

    def start(self, *, wait: bool = True) -> "Service":
        """Start the process (again, after `stop`). A port the last run listened on may have
        become another socket's since (a client's ephemeral port, another test's server): a
        restart listens where it did before only if that port is free, else on a new one."""
        self.name = self.name or self.module
        if self.process is not None:
            self.move_taken_ports()
        self.spawn()
        if wait:
            self.wait_ready()
        return self

    def spawn(self) -> None:
        log_path = self.log_dir / f"{self.name}.log"
        self.log_offset = log_path.stat().st_size if log_path.exists() else 0
        env = {**os.environ, **self.env, f"{self.module.upper()}_PORT": str(self.port)}
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.module}"], env=env, stdout=log, stderr=log
            )

    def move_taken_ports(self) -> None:
        """Give a new port to each port of this process (its own, and the `*_PORT` settings
        it was given) that something else holds now."""
        if not port_free("127.0.0.1", self.port):
            self.port = free_port()
        for name, value in self.env.items():
            if name.endswith("_PORT") and not port_free("127.0.0.1", int(value)):
                self.env = {**self.env, name: str(free_port())}  # may be shared: copy

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for `/ready`; a process that lost a race for its port (free_port's answer is
        only true until someone binds it) starts again on new ports."""
        deadline = time.monotonic() + timeout
        for _ in range(PORT_RACES):
            if self.ready_or_exited(deadline):
                return
            self.move_taken_ports()
            self.spawn()
        raise RuntimeError(f"{self.name} kept finding its ports taken: {self.log_tail()}")

    def ready_or_exited(self, deadline: float) -> bool:
        """True once ready; False if it exited because its address was in use."""
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if ADDRESS_IN_USE in self.log_since_start():
                    return False
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in time: {self.log_tail()}")

    def log_since_start(self) -> str:
        with (self.log_dir / f"{self.name}.log").open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        path = self.log_dir / f"{self.name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop with `sig` (SIGKILL simulates a crash) and wait for the exit."""
        self.signal(sig)
        self.wait_exit()

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Send `sig` if the process runs (stop() without the wait)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)

    def wait_exit(self) -> None:
        """Wait up to 15 s for the exit, then kill."""
        if self.process is None:
            return
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
