"""Service processes for `make run` and the tests: spawn, prefix their logs, wait, stop."""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

COLORS = ("36", "32", "35", "33", "34", "31")


@dataclass
class ServiceProcess:
    """One service replica run as `python -m services.<module>`."""

    name: str
    module: str
    port: int
    env: Mapping[str, str]
    log_file: Path | None = None
    color: str = "36"
    echo: bool = True
    process: asyncio.subprocess.Process | None = None
    _pump: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ready"

    async def start(self) -> None:
        """Start the process in its own session (the supervisor decides when it stops)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{self.module}",
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = asyncio.create_task(self._copy_output())

    async def _copy_output(self) -> None:
        assert self.process and self.process.stdout
        prefix = (
            f"\x1b[{self.color}m{self.name:<10}|\x1b[0m "
            if sys.stdout.isatty()
            else f"{self.name:<10}| "
        )
        sink = self.log_file.open("a", encoding="utf-8") if self.log_file else None
        try:
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if sink:
                    sink.write(line + "\n")
                    sink.flush()
                if self.echo:
                    print(prefix + line, flush=True)
        finally:
            if sink:
                sink.close()

    async def wait_ready(self, limit_s: float = 60.0) -> None:
        """Wait until /ready answers 200; raise with the reason if the process dies first."""
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process and self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited with code {self.process.returncode}")
                try:
                    if (await client.get(self.ready_url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {limit_s:.0f} s ({self.ready_url})")

    async def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM (the service drains), then SIGKILL after `grace` seconds."""
        await self.signal(signal.SIGTERM)
        if self.process:
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                await self.signal(signal.SIGKILL)
                await self.process.wait()
        if self._pump:
            await self._pump

    async def kill(self) -> None:
        """SIGKILL: a crash, as the fault tests need it."""
        await self.signal(signal.SIGKILL)
        if self.process:
            await self.process.wait()
        if self._pump:
            await self._pump

    async def signal(self, sig: signal.Signals) -> None:
        if self.process and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
