"""Finding the database and NATS of a running `make run` from its data folder, for
command-line tools.

The embedded Postgres listens only on a Unix socket in its data folder. While it runs, Postgres
keeps `postmaster.pid` there (removed on a clean stop): its pid, port and socket folder. That is
all a tool needs, so `make run` writes nothing more and nothing can go stale behind its back.
"""

import os
from pathlib import Path

PID_FILE = Path("postgres") / "postmaster.pid"  # under the data folder (SWITCHBOARD_DATA)
NATS_CONFS = ("nats/nats.conf", "nats-cluster/*/nats.conf")  # what EmbeddedNats writes there
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / ".data"


class NoRunningStack(Exception):
    """No DATABASE_URL and no running `make run` Postgres; the message says what to do."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return pid > 0


def embedded_database_url(data_dir: Path, *, database: str = "switchboard") -> str | None:
    """The URL of the embedded Postgres of a `make run` using `data_dir`, or None when none
    runs there (no pid file, or its postmaster is gone)."""
    try:
        lines = (data_dir / PID_FILE).read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), int(lines[3]), lines[4].strip()
    except (OSError, IndexError, ValueError):
        return None
    if not socket_dir or not _alive(pid):
        return None
    return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"


def _places(data_dir: Path | None) -> list[Path]:
    candidates = [data_dir] if data_dir is not None else [Path(".data"), CHECKOUT_DATA]
    return list(dict.fromkeys(p.resolve() for p in candidates))


def embedded_nats_url(data_dir: Path) -> str | None:
    """The client URL the embedded NATS of a `make run` using `data_dir` was told to listen on
    (its config file's `listen`), or None when there is no such file."""
    for pattern in NATS_CONFS:
        for conf in sorted(data_dir.glob(pattern)):
            try:
                text = conf.read_text()
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "listen" and value.strip().strip('"'):
                    return f"nats://{value.strip().strip(chr(34))}"
    return None


def nats_url(given: str | None, data_dir: Path | None) -> str:
    """NATS_URL when given; else the embedded NATS of the `make run` of `data_dir` (or ./.data,
    or this checkout's .data); else NATS's default address."""
    if given:
        return given
    for place in _places(data_dir):
        found = embedded_nats_url(place)
        if found:
            return found
    return DEFAULT_NATS_URL


def database_url(given: str | None, data_dir: Path | None) -> str:
    """DATABASE_URL when given; else the running `make run` Postgres of `data_dir` (when set:
    SWITCHBOARD_DATA), of ./.data, or of this checkout's .data. Raises NoRunningStack."""
    if given:
        return given
    places = _places(data_dir)
    for place in places:
        found = embedded_database_url(place)
        if found:
            return found
    where = " or ".join(str(p / PID_FILE.parent) for p in places)
    raise NoRunningStack(
        f"no database: DATABASE_URL is not set and no `make run` Postgres is running in {where}."
        " Start `make run` (from the checkout), or set DATABASE_URL"
    )
