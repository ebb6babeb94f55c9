"""Socket-level fuzz against a running gateway: generated frames over real sockets, per protocol.

`run_socket_fuzz(stack, project, protocol, frames)` sends `frames` frames (tests/support/fuzz.py,
a hypothesis corpus stretched by mutation) on one socket, pipelined, and returns FuzzFigures:
frames sent, closes by code, unexpected closes, the gateway's resident memory after a warm-up
and at the end. A frame the gateway closes the socket for by protocol (AIDA's unreadable frames:
1007, or 1003 binary; any frame over the limit: 1009) is predicted from the same rules, so the
driver waits for that close and reconnects; any other close (1011: an exception escaped) is
counted as unexpected. A barrier frame (answered only after everything before it) ends the
warm-up and the run, so memory is measured after the gateway has handled every frame.

The stack must run without per-socket rate limits (FUZZ_GATEWAY_ENV), or the frames are only
answered "slow down". RSVP's "frames" are GET requests, 8 at a time.
"""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.gateway.protocols.aida import wire
from tests.support import fuzz
from tests.support.plugin import Stack, TestProject

FUZZ_GATEWAY_ENV = {"GATEWAY_FRAME_RATE": "0", "GATEWAY_PROJECT_TURN_RATE": "0"}
PROTOCOLS = ("xparo", "typed", "aida", "besser", "rsvp")
CORPUS = 1500
REJOIN_EVERY = 50
WINDOW = 500  # frames in flight at most: the run measures leaks, not read-ahead
MAX_FRAME = 1024 * 1024
BARRIER_WAIT_S = 30.0
ALLOWED_CLOSES = {"aida": {1007, 1003, 1009}, "besser": {1009}}
OTHERS = ["00000000-0000-4000-8000-00000000beef"]


@dataclass
class FuzzFigures:
    """What one protocol's run did to the gateway."""

    protocol: str
    frames: int = 0
    answers: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    rss_before: int = 0
    rss_after: int = 0
    seconds: float = 0.0

    @property
    def rss_growth(self) -> int:
        return self.rss_after - self.rss_before

    def line(self) -> str:
        mib = 1024 * 1024
        closes = ",".join(f"{code}×{n}" for code, n in sorted(self.closes.items())) or "-"
        return (
            f"{self.protocol:<7} frames={self.frames:>7} answers={self.answers:>7} "
            f"closes={closes} unexpected={len(self.unexpected)} "
            f"rss {self.rss_before / mib:.1f} → {self.rss_after / mib:.1f} MiB "
            f"({self.rss_growth / mib:+.1f}) in {self.seconds:.1f} s"
        )


@dataclass
class Dialect:
    """How one WebSocket protocol is fuzzed: where, what first, what closes, what ends a run."""

    url: str
    strategy: Any
    hello: list[str]
    barrier: Callable[[str], tuple[str, Callable[[str], bool]]]
    closes: Callable[[fuzz.Frame], bool]
    limit: int = MAX_FRAME


def _size(frame: fuzz.Frame) -> int:
    return len(frame) if isinstance(frame, bytes) else len(frame.encode())


def dialect(stack: Stack, project: TestProject, protocol: str, *, media: bool) -> Dialect:
    """The Dialect of `protocol` on `stack`'s first gateway, speaking for `project`."""
    big: Callable[[fuzz.Frame], bool] = lambda frame: _size(frame) > MAX_FRAME  # noqa: E731
    if protocol == "xparo":
        return Dialect(
            stack.ws_url(project),
            fuzz.xparo_frames(OTHERS),
            [],
            lambda n: (json.dumps({f"fuzz_{n}": {"task_id": n}}), lambda t: n in t),
            big,
        )
    if protocol == "typed":
        return Dialect(
            stack.typed_url(project, robot="fuzz-robot"),
            fuzz.typed_frames(OTHERS),
            [],
            lambda n: (json.dumps({"type": f"barrier-{n}"}), lambda t: n in t),
            big,
        )
    if protocol == "aida":
        topic = f"bot:{project.key}"
        join = json.dumps(["1", "1", topic, "phx_join", {"access_token": project.secret}])
        return Dialect(
            stack.phoenix_url(),
            fuzz.aida_frames(project.key, project.secret, other_ids=OTHERS),
            [join],
            lambda n: (json.dumps([None, n, "phoenix", "heartbeat", {}]), lambda t: n in t),
            lambda frame: big(frame) or _phoenix_closes(frame),
        )
    if protocol == "besser":
        limit = 16 * MAX_FRAME
        return Dialect(
            stack.besser_url(project),
            fuzz.besser_frames(OTHERS, media=media),
            [],
            lambda n: (json.dumps({"action": f"barrier-{n}", "message": None}), lambda t: n in t),
            lambda frame: _size(frame) > limit,
            limit,
        )
    raise ValueError(f"no socket fuzz for {protocol!r}")


V2 = wire.Serializer(2)


def _phoenix_closes(frame: fuzz.Frame) -> bool:
    """Whether the gateway closes a V2 socket for `frame` (aida.py: unreadable, no ref)."""
    try:
        if isinstance(frame, bytes):
            V2.decode_binary(frame)
        else:
            V2.decode(frame)
    except wire.PhoenixFrameError as err:
        return isinstance(frame, bytes) or (err.ref is None and err.topic is None)
    return False


def rss(stack: Stack) -> int:
    """Resident memory of the first gateway process, in bytes."""
    assert stack.gateway.process is not None
    return int(psutil.Process(stack.gateway.process.pid).memory_info().rss)


class Session:
    """One fuzzing socket at a time, reopened whenever the gateway closes it."""

    def __init__(self, talk: Dialect, figures: FuzzFigures) -> None:
        self.talk = talk
        self.figures = figures
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.waiting: tuple[Callable[[str], bool], asyncio.Future[None]] | None = None

    async def open(self) -> ClientConnection:
        if self.ws is None:
            self.ws = await connect(self.talk.url, max_size=None, open_timeout=30)
            self.reader = asyncio.create_task(self._read(self.ws))
            for frame in self.talk.hello:
                await self.ws.send(frame)
        return self.ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                self.figures.answers += 1
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if self.waiting is not None and self.waiting[0](text):
                    self.waiting[1].set_result(None)
        except ConnectionClosed:
            pass
        code = ws.close_code if ws.close_code is not None else 1006
        self.figures.closes[code] += 1

    async def closed(self, *, expected: bool) -> None:
        """Wait for the gateway's close of the current socket, then forget it."""
        ws, reader = self.ws, self.reader
        self.ws = self.reader = None
        if ws is None or reader is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(reader), 10 if expected else 0.01)
        except TimeoutError:
            if expected:
                self.figures.unexpected.append("a frame that closes the socket did not")
            await ws.close()
            await reader
        code = ws.close_code or 1006
        if code not in ALLOWED_CLOSES.get(self.figures.protocol, {1009}) and code != 1000:
            self.figures.unexpected.append(f"closed with {code}: {ws.close_reason!r}")

    async def send(self, frame: fuzz.Frame) -> None:
        ws = await self.open()
        try:
            await ws.send(frame)
        except ConnectionClosed:
            await self.closed(expected=False)
            return
        self.figures.frames += 1
        if self.talk.closes(frame):
            await self.closed(expected=True)
        elif self.reader is not None and self.reader.done():
            await self.closed(expected=False)

    async def barrier(self) -> None:
        """Return once the gateway answered everything sent so far on this socket."""
        nonce = uuid4().hex
        frame, matches = self.talk.barrier(nonce)
        done = asyncio.get_running_loop().create_future()
        self.waiting = (matches, done)
        ws = await self.open()
        await ws.send(frame)
        try:
            await asyncio.wait_for(done, BARRIER_WAIT_S)
        except TimeoutError:
            self.figures.unexpected.append(f"no answer to the barrier in {BARRIER_WAIT_S} s")
            await self.closed(expected=False)
        finally:
            self.waiting = None

    async def end(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader
        self.figures.closes[1000] -= 1  # our own close
        self.figures.closes += Counter()  # drop zero counts


def _warmup(frames: int) -> int:
    return min(frames, max(200, frames // 10))


async def fuzz_socket(
    stack: Stack, project: TestProject, protocol: str, frames: int, *, seed: int = 0
) -> FuzzFigures:
    """Send `frames` generated frames of `protocol` and measure the gateway (see module doc)."""
    if protocol == "rsvp":
        return await fuzz_rsvp(stack, project, frames, seed=seed)
    figures = FuzzFigures(protocol)
    talk = dialect(stack, project, protocol, media=bool(stack.media))
    examples = await asyncio.to_thread(fuzz.corpus, talk.strategy, min(frames, CORPUS), seed=seed)
    session = Session(talk, figures)
    started = time.monotonic()
    warm = _warmup(frames)
    for n, frame in enumerate(fuzz.stream(examples, frames, seed=seed)):
        if n == warm:
            await session.barrier()
            figures.rss_before = rss(stack)
        await session.send(frame)
        if n % REJOIN_EVERY == REJOIN_EVERY - 1:  # fuzzed leaves and bad joins unjoin AIDA
            for hello in talk.hello:
                await session.send(hello)
        if n % WINDOW == WINDOW - 1:
            await session.barrier()
    await session.barrier()
    figures.rss_after = rss(stack)
    await session.end()
    figures.seconds = time.monotonic() - started
    return figures


async def fuzz_rsvp(stack: Stack, project: TestProject, frames: int, *, seed: int) -> FuzzFigures:
    """GET `frames` generated queries, 8 at a time; every answer must be RSVP's JSON (or the
    422 problem for a NUL in the query), never a 500."""
    figures = FuzzFigures("rsvp")
    strategy = fuzz.rsvp_queries(UUID(str(project.key)), project.secret, OTHERS)
    examples = await asyncio.to_thread(fuzz.corpus, strategy, min(frames, CORPUS), seed=seed)
    queries: Iterator[fuzz.Frame] = fuzz.stream(examples, frames, seed=seed)
    started = time.monotonic()
    warm = _warmup(frames)
    async with httpx.AsyncClient(base_url=stack.http_url(), timeout=60) as client:

        async def worker() -> None:
            for query in queries:
                text = query if isinstance(query, str) else query.decode("latin-1")
                response = await client.get(f"/sandbox/chat?{_printable(text[: fuzz.MAX_QUERY])}")
                figures.frames += 1
                figures.answers += 1
                problem = _rsvp_problem(response)
                if problem:
                    figures.unexpected.append(problem)
                if figures.frames == warm:
                    figures.rss_before = rss(stack)

        await asyncio.gather(*(worker() for _ in range(8)))
    figures.rss_after = rss(stack)
    figures.seconds = time.monotonic() - started
    return figures


def _printable(query: str) -> str:
    """`query` with every byte an HTTP client refuses in a URL percent-escaped."""
    raw = query.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if 0x21 <= b <= 0x7E else f"%{b:02X}" for b in raw)


def _rsvp_problem(response: httpx.Response) -> str | None:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return f"{status}: not JSON: {response.text[:100]!r}"
    if status == 200 and body.get("status") == 0:
        return None
    if status in (400, 401, 404, 414, 422, 503, 504) and body.get("status") == -1:
        return None
    return f"{status}: {str(body)[:200]}"


def run_socket_fuzz(
    stack: Stack, project: TestProject, protocol: str, frames: int, *, seed: int = 0
) -> FuzzFigures:
    """fuzz_socket for synchronous callers (tests and the chaos suite)."""
    return asyncio.run(fuzz_socket(stack, project, protocol, frames, seed=seed))
