"""Coverage-guided fuzz (atheris, libFuzzer) of the socket adapters' frame handling.

hypothesis (test_adapters.py) generates frames from a grammar of each protocol; atheris instead
mutates bytes towards code the adapters have not run yet, starting from a few valid frames. Each
input is one frame to a fresh adapter on the fakes (AIDA: after a good join); no exception may
escape and every answer must be in the protocol's own shape. A failure ends the run with the
input saved (libFuzzer's crash-<sha1> file) and a non-zero exit.

    .venv/bin/python -m tests.fuzz.coverage_guided xparo|typed|aida1|aida2|besser -runs=100000
"""

import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["services.gateway"]):
    from tests.support.gateway_fakes import SECRET
    from tests.support.sockets import BOT, Wire, aida, besser, feed, typed, xparo

    from .shapes import BESSER_ERROR_KEYS, BESSER_KEYS, check_phoenix

LOOP = asyncio.new_event_loop()
TOPIC = f"bot:{BOT.key}"
SEEDS: dict[str, list[Any]] = {
    "xparo": [{"ask_bot": "hi"}, {"save_aiml": "<category><pattern>A</pattern></category>"}],
    "typed": [{"type": "chat", "data": {"message": "hi"}}, {"type": "ping", "data": {}}],
    "aida1": [{"topic": TOPIC, "event": "new_session", "payload": {}, "ref": "2"}],
    "aida2": [
        ["1", "2", TOPIC, "new_session", {"data": {"a": 1}}],
        ["1", "3", TOPIC, "utb_msg", {"session": "s1", "text": "hi"}],
    ],
    "besser": [{"action": "user_message", "message": "hi"}, {"action": "reset"}],
    "broken": [{"a": 1}],
}


def _frame(data: bytes) -> str | bytes:
    """The first byte picks a text frame (valid UTF-8, as the server hands it on) or binary."""
    if not data or data[0] % 2 == 0:
        return data[1:].decode("utf-8", "replace")
    return data[1:]


def _run(adapter: Any, frame: str | bytes) -> None:
    LOOP.run_until_complete(feed(adapter, frame))


def _xparo(frame: str | bytes) -> None:
    out = Wire()
    _run(xparo(out, BOT), frame)
    for sent in out.frames:
        assert isinstance(sent, dict) and sent, sent
        if "error" in sent:
            assert isinstance(sent["error"]["message"], str), sent


def _typed(frame: str | bytes) -> None:
    out = Wire()
    _run(typed(out), frame)
    for sent in out.frames:
        assert isinstance(sent["type"], str) and isinstance(sent["data"], dict), sent


def _aida(version: int) -> Callable[[str | bytes], None]:
    def run(frame: str | bytes) -> None:
        out = Wire()
        adapter = aida(out, version)
        join: Any = ["1", "1", TOPIC, "phx_join", {"access_token": SECRET}]
        if version == 1:
            join = {"topic": TOPIC, "event": "phx_join", "payload": join[4], "ref": "1"}
        _run(adapter, json.dumps(join))
        out.frames.clear()
        _run(adapter, frame)
        check_phoenix(out, version)

    return run


def _besser(frame: str | bytes) -> None:
    out = Wire()
    _run(besser(out), frame)
    assert not out.closes, out.closes
    for sent in out.frames:
        assert set(sent) in (BESSER_KEYS, BESSER_ERROR_KEYS), sent
        assert isinstance(sent["action"], str), sent


def _broken(frame: str | bytes) -> None:
    """A check that fails on any frame holding a JSON object: proves a failure stops the run."""
    assert not (isinstance(frame, str) and frame.startswith("{")), "an object"


TARGETS: dict[str, Callable[[str | bytes], None]] = {
    "broken": _broken,
    "xparo": _xparo,
    "typed": _typed,
    "aida1": _aida(1),
    "aida2": _aida(2),
    "besser": _besser,
}


def main() -> None:
    protocol, options = sys.argv[1], sys.argv[2:]
    target = TARGETS[protocol]
    corpus = Path(tempfile.mkdtemp(prefix=f"atheris-{protocol}-"))
    for n, seed in enumerate(SEEDS[protocol]):
        (corpus / f"seed{n}").write_bytes(b"\x00" + json.dumps(seed).encode())

    def one_input(data: bytes) -> None:
        target(_frame(data))

    atheris.Setup([sys.argv[0], *options, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
