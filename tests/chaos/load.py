"""A steady load across the five protocols, counting every turn a client sends and every answer.

Each simulated user talks to an echo bot ("say <token>" → "<token>") through one protocol's real
wire format: XPARO's command API, XPARO's typed API (a robot that also streams telemetry), AIDA's
Phoenix channels, BESSER's WebSocket platform and RSVP.ai's HTTP API. A user sends a turn,
waits for its answer (or gives up waiting and goes on), and when its socket is closed it
reconnects to the next gateway replica with the same session, as the real clients do. Tokens are
unique per turn, so the tally can tell an answer that never came from one that came twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import random
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

PROTOCOLS = ("xparo", "typed", "aida", "besser", "rsvp")
ECHO_AIML = "<category><pattern>SAY *</pattern><template><star/></template></category>"


@dataclass(frozen=True)
class Bot:
    """A project answering the load (its key and secret in clear)."""

    key: UUID
    secret: str


@dataclass(frozen=True)
class Gateway:
    """Where one gateway replica listens."""

    http: str  # http://127.0.0.1:port
    besser: str  # ws://127.0.0.1:port

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://", 1)


@dataclass
class Tally:
    """What the clients saw: turns sent and answers received, per token."""

    sent: dict[str, str] = field(default_factory=dict)  # token → protocol
    answers: Counter[str] = field(default_factory=Counter)
    samples: dict[str, int] = field(default_factory=dict)  # robot → samples sent
    reconnects: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # error answers (try again, 504…)
    latencies: list[float] = field(default_factory=list)
    _waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)

    def sending(self, token: str, protocol: str) -> asyncio.Future[None]:
        """Note a turn about to be sent; the future is done when its answer comes."""
        self.sent[token] = protocol
        self._waiting[token] = answered = asyncio.get_running_loop().create_future()
        return answered

    def answered(self, text: str) -> None:
        """Count an answer (any text that is one of our tokens)."""
        token = text.strip().lower()
        if token in self.sent:
            self.answers[token] += 1
            waiting = self._waiting.pop(token, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)


class Client(Protocol):
    """One user's connection in one protocol."""

    async def open(self, gateway: Gateway) -> None: ...
    async def say(self, text: str) -> None: ...
    async def wait(self, answered: asyncio.Future[None], within_s: float) -> bool: ...
    async def linger(self, until: asyncio.Event) -> None: ...
    async def close(self) -> None: ...


class Closed(Exception):
    """The server ended the connection (the user reconnects)."""


class _Socket:
    """Shared WebSocket plumbing: a reader task handing each frame to `on_frame`."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def _connect(self, url: str) -> None:
        self.ws = await connect(url, open_timeout=10, ping_interval=None, max_size=2**24)
        self._reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(WebSocketException, OSError):
            async for raw in ws:
                with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
                    self.on_frame(json.loads(raw))

    def on_frame(self, frame: Any) -> None:
        raise NotImplementedError

    async def wait(self, answered: asyncio.Future[Any], within_s: float) -> bool:
        """Wait for the answer; Closed when the server ends the socket first. (Waiting on the
        future itself, not a task per turn: the load spends its CPU on the protocols.)"""
        assert self._reader is not None
        if not answered.done():
            await asyncio.wait(
                {answered, self._reader}, timeout=within_s, return_when="FIRST_COMPLETED"
            )
        if answered.done():
            return True
        if self._reader.done():
            raise Closed()
        return False

    async def linger(self, until: asyncio.Event) -> None:
        """Keep listening until `until` is set (Closed if the server ends the socket first)."""
        waiter = asyncio.ensure_future(until.wait())
        try:
            await self.wait(waiter, 3600)
        finally:
            waiter.cancel()

    async def send(self, frame: Any) -> None:
        if self.ws is None or self._reader is None or self._reader.done():
            raise Closed()
        try:
            await self.ws.send(json.dumps(frame))
        except (WebSocketException, OSError) as err:
            raise Closed() from err

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self._reader is not None:
            self._reader.cancel()


class Xparo(_Socket):
    def __init__(self, tally: Tally, bot: Bot, n: int) -> None:
        super().__init__(tally)
        self.path = f"/chatbot_api/{bot.secret}/{bot.key}/?session_id=loadx{n}"

    async def open(self, gateway: Gateway) -> None:
        await self._connect(gateway.ws + self.path)

    async def say(self, text: str) -> None:
        await self.send({"ask_bot": text})

    def on_frame(self, frame: Any) -> None:
        if "message" in frame:
            self.tally.answered(frame["message"]["bot_response"])
        elif "error" in frame:
            self.tally.refused["xparo"] += 1


class Typed(_Socket):
    """A robot: chats, and sends a numbered telemetry sample with each turn."""

    def __init__(self, tally: Tally, bot: Bot, n: int) -> None:
        super().__init__(tally)
        self.robot = f"loadt{n}"
        self.path = f"/ws/chatbot/{bot.secret}/{bot.key}/?robot_id={self.robot}"
        tally.samples.setdefault(self.robot, 0)

    async def open(self, gateway: Gateway) -> None:
        await self._connect(gateway.ws + self.path)

    async def say(self, text: str) -> None:
        await self.send({"type": "chat", "data": {"message": text}})
        seq = self.tally.samples[self.robot] + 1
        await self.send({"type": "telemetry", "data": {"load_seq": seq}})
        self.tally.samples[self.robot] = seq

    def on_frame(self, frame: Any) -> None:
        if frame.get("type") == "chat_response":
            self.tally.answered(frame["data"]["response"])
        elif frame.get("type") == "error":
            self.tally.refused["typed"] += 1


class Besser(_Socket):
    def __init__(self, tally: Tally, bot: Bot, n: int) -> None:
        super().__init__(tally)
        self.query = f"/?project={bot.key}&token={bot.secret}&session_id=loadb{n}"

    async def open(self, gateway: Gateway) -> None:
        await self._connect(gateway.besser + self.query)

    async def say(self, text: str) -> None:
        await self.send({"action": "user_message", "message": text})

    def on_frame(self, frame: Any) -> None:
        if "error" in frame:  # an agent_reply_str "Error: ..." with the reason under `error`
            self.tally.refused["besser"] += 1
        elif frame.get("action") == "agent_reply_str":
            self.tally.answered(frame["message"])


class Aida(_Socket):
    """phoenix.js's V2 wire: join `bot:<key>`, open a session once, heartbeat every 20 s."""

    def __init__(self, tally: Tally, bot: Bot, n: int) -> None:
        super().__init__(tally)
        self.bot = bot
        self.topic = f"bot:{bot.key}"
        self.session: str | None = None
        self._refs = itertools.count(1)
        self._replies: dict[str, asyncio.Future[Any]] = {}
        self._beat: asyncio.Task[None] | None = None

    async def open(self, gateway: Gateway) -> None:
        await self._connect(gateway.ws + "/socket/websocket?vsn=2.0.0")
        joined = await self._call(None, "phx_join", {"access_token": self.bot.secret})
        if joined["status"] != "ok":
            raise Closed()
        self.join_ref = joined["ref"]
        if self.session is None:
            opened = await self._call(self.join_ref, "new_session", {})
            self.session = str(opened["response"]["session"])
        self._beat = asyncio.create_task(self._heartbeat())

    async def _call(self, join_ref: str | None, event: str, payload: Any) -> Any:
        ref = str(next(self._refs))
        self._replies[ref] = asyncio.get_running_loop().create_future()
        topic = "phoenix" if event == "heartbeat" else self.topic
        await self.send([join_ref or ref, ref, topic, event, payload])
        try:
            reply = await asyncio.wait_for(self._replies[ref], 10)
        except TimeoutError as err:
            raise Closed() from err
        finally:
            self._replies.pop(ref, None)
        return {**reply, "ref": ref}

    async def _heartbeat(self) -> None:
        with contextlib.suppress(Closed):
            while True:
                await asyncio.sleep(20)
                await self.send([None, str(next(self._refs)), "phoenix", "heartbeat", {}])

    async def say(self, text: str) -> None:
        await self.send([self.join_ref, str(next(self._refs)), self.topic, "utb_msg",
                         {"session": self.session, "text": text}])  # fmt: skip

    def on_frame(self, frame: Any) -> None:
        _join, ref, _topic, event, payload = frame
        if event == "btu_msg" and payload["session"] == self.session:
            self.tally.answered(payload["text"])
        elif event == "phx_reply" and ref in self._replies:
            self._replies[ref].set_result(payload)
        elif event == "phx_reply" and payload.get("status") == "error":
            self.tally.refused["aida"] += 1

    async def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        await super().close()


class Rsvp:
    """An RSVP.ai caller: one GET per question, the answer in `stage[].message`.

    Each caller keeps its own keep-alive HTTP client (one connection), as a caller's process
    does, and opens a new one after an error. (One client pooling every caller's connection
    cost the load more per request than the gateway spent answering it: httpcore scans the
    whole pool for each request.)"""

    def __init__(self, tally: Tally, bot: Bot, n: int) -> None:
        self.tally = tally
        self.params = {"botid": str(bot.key), "token": bot.secret, "uid": f"loadr{n}"}
        self.http: httpx.AsyncClient | None = None
        self.url = ""
        self.asked: list[str] = []  # this caller's tokens

    async def open(self, gateway: Gateway) -> None:
        self.url = f"{gateway.http}/sandbox/chat"
        self.http = httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=1), verify=_tls()
        )

    async def say(self, text: str) -> None:
        assert self.http is not None
        if text.startswith("say "):
            self.asked.append(text.removeprefix("say "))
        try:
            got = await self.http.get(self.url, params={**self.params, "q": text})
        except httpx.HTTPError as err:
            raise Closed() from err
        body = got.json() if got.headers.get("content-type", "").startswith("application") else {}
        if got.status_code != 200 or body.get("status") != 0:
            self.tally.refused["rsvp"] += 1
            if got.status_code >= 500 and got.status_code != 504:
                raise Closed()
        for element in body.get("stage") or []:
            self.tally.answered(str(element.get("message", "")))

    async def wait(self, answered: asyncio.Future[None], within_s: float) -> bool:
        return answered.done()  # the answer came with the response, or not at all

    async def linger(self, until: asyncio.Event) -> None:
        """RSVP has no push: a turn whose caller was told 504 (or cut off) is answered with the
        caller's next question. So while the load drains, a caller still owed an answer asks
        again, every second, with a question that is no token (the books count no turn of
        it: ledger.py's tokens are "say <token>")."""
        while not until.is_set():
            owed = any(self.tally.answers[t] == 0 for t in self.asked)
            if owed:
                await self.say("any news")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), 1.0)

    async def close(self) -> None:
        if self.http is not None:
            with contextlib.suppress(Exception):
                await self.http.aclose()
            self.http = None


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every caller's client (unused over http://; httpx would otherwise
    build one, loading the CA bundle, per client)."""
    return ssl.create_default_context()


@dataclass
class Load:
    """Users spread over the protocols, each saying a numbered token every `pace_s`."""

    gateways: Sequence[Gateway]
    bots: Sequence[Bot]  # AIDA users get a bot each (AIDA broadcasts a bot's replies to all)
    users: int
    pace_s: float = 1.0
    aida_per_bot: int = 1  # or share one, as the users of a chat widget on one site do
    answer_wait_s: float = 20.0
    protocols: Sequence[str] = PROTOCOLS  # user n speaks protocols[n % len(protocols)]
    tally: Tally = field(default_factory=Tally)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _drained: asyncio.Event = field(default_factory=asyncio.Event)
    _next: itertools.count[int] = field(default_factory=itertools.count)

    def _gateway(self) -> Gateway:
        return self.gateways[next(self._next) % len(self.gateways)]

    @contextlib.asynccontextmanager
    async def running(
        self, settled: Callable[[], Awaitable[bool]], *, drain_s: float = 45.0
    ) -> AsyncIterator[Load]:
        """Run the users until the block ends; then they stop sending but keep listening (and
        reconnecting) until `settled` says every accepted turn was answered, or `drain_s`."""
        users = [
            asyncio.create_task(self._user(n, self.protocols[n % len(self.protocols)]))
            for n in range(self.users)
        ]
        try:
            yield self
        finally:
            self._stop.set()
            deadline = time.monotonic() + drain_s
            # polling: the books live in JetStream and Postgres, not in an Event
            while time.monotonic() < deadline and not await settled():  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            self._drained.set()
            await asyncio.gather(*users, return_exceptions=True)

    def _client(self, n: int, protocol: str) -> Client:
        # AIDA user k (users n = k*len(protocols) + i) gets bots[1 + k // aida_per_bot]: with
        # one per bot, a bot of its own, wrapping only when there are fewer bots than AIDA users.
        shared = (n // len(self.protocols)) // self.aida_per_bot
        aida = 1 + shared % max(1, len(self.bots) - 1)
        bot = self.bots[min(aida, len(self.bots) - 1)]
        made: dict[str, Any] = {
            "xparo": lambda: Xparo(self.tally, self.bots[0], n),
            "typed": lambda: Typed(self.tally, self.bots[0], n),
            "besser": lambda: Besser(self.tally, self.bots[0], n),
            "aida": lambda: Aida(self.tally, bot, n),
            "rsvp": lambda: Rsvp(self.tally, self.bots[0], n),
        }
        client: Client = made[protocol]()
        return client

    async def _user(self, n: int, protocol: str) -> None:
        client = self._client(n, protocol)
        await asyncio.sleep(random.uniform(0, self.pace_s))  # spread the first turns
        turn = 0
        while not self._drained.is_set():
            try:
                await client.open(self._gateway())
                while not self._stop.is_set():
                    turn += 1
                    token = f"{protocol[0]}{n}q{turn}"
                    answered = self.tally.sending(token, protocol)
                    started = time.monotonic()
                    await client.say(f"say {token}")
                    if await client.wait(answered, self.answer_wait_s):
                        self.tally.latencies.append(time.monotonic() - started)
                    await asyncio.sleep(self.pace_s)
                await client.linger(self._drained)  # late answers still count
            except (Closed, OSError, WebSocketException, TimeoutError):
                self.tally.reconnects[protocol] += 1
                await asyncio.sleep(random.uniform(0.2, 0.6))
            finally:
                await client.close()
