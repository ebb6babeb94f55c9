"""Golden frames: a scripted exchange with one protocol adapter (client frames in, the exact
frames the server sent out), compared with the exchange kept in
tests/component/golden/<protocol>/<name>.json.

What changes from run to run is replaced before comparing: each distinct UUID (also in its 32-hex
form) by `<uuid-N>` (N in the order of first appearance, so an id that comes back is still seen
to be the same one), and date-times (BESSER's `YYYY-MM-DD HH:MM:SS`, ISO 8601) by `<time>`.

`UPDATE_GOLDEN=1` writes the files instead of comparing: run it after a deliberate wire change and
read the diff before committing it. A missing file fails (a golden is never made silently).
"""

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sockets import Wire, feed

GOLDEN = Path(__file__).resolve().parents[1] / "component" / "golden"
UPDATE = "UPDATE_GOLDEN"
UUID = re.compile(
    r"\b(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})\b", re.I
)
TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


class Scrubber:
    """Replaces UUIDs and date-times in a JSON value, numbering the UUIDs consistently."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self(v) for k, v in value.items()}
        return value

    def text(self, text: str) -> str:
        text = UUID.sub(self._uuid, text)
        return TIME.sub("<time>", text)

    def _uuid(self, found: re.Match[str]) -> str:
        return self.seen.setdefault(found.group(0).lower(), f"<uuid-{len(self.seen) + 1}>")


def assert_golden(protocol: str, name: str, exchange: list[dict[str, Any]]) -> None:
    """`exchange` (scrubbed) equals tests/component/golden/<protocol>/<name>.json."""
    path = GOLDEN / protocol / f"{name}.json"
    got = Scrubber()(exchange)
    text = json.dumps(got, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    shown = path.relative_to(GOLDEN.parents[2])
    assert path.exists(), f"{shown} is missing: record it with {UPDATE}=1, then read it"
    kept = path.read_text(encoding="utf-8")
    if json.loads(kept) != got:
        diff = difflib.unified_diff(
            kept.splitlines(keepends=True), text.splitlines(keepends=True), str(shown), "this run"
        )
        raise AssertionError(
            f"the frames differ from {shown} ({UPDATE}=1 rewrites it):\n{''.join(diff)}"
        )


@dataclass
class Exchange:
    """One socket's adapter driven frame by frame; each step records the client's frame (or
    that it connected), the frames the server sent in answer and any close code."""

    adapter: Any
    wire: Wire
    steps: list[dict[str, Any]] = field(default_factory=list)

    async def connect(self) -> list[Any]:
        """Open the socket as the gateway does (adapter.start); what the server sent unasked."""
        await self.adapter.start()
        return self._record({"connects": True})

    async def send(self, frame: Any) -> list[Any]:
        """Send `frame` as JSON text; the frames sent in answer."""
        await feed(self.adapter, json.dumps(frame))
        return self._record({"client": frame})

    async def send_text(self, text: str) -> list[Any]:
        """Send `text` as it is (not JSON, say); the frames sent in answer."""
        await feed(self.adapter, text)
        return self._record({"client_text": text})

    def _record(self, step: dict[str, Any]) -> list[Any]:
        sent = list(self.wire.frames)
        step["server"] = sent
        if self.wire.closes:
            step["closed"] = list(self.wire.closes)
        self.steps.append(step)
        self.wire.frames.clear()
        self.wire.closes.clear()
        return sent
