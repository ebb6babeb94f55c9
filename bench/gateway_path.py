"""The gateway's own CPU per XPARO turn, in process: no network, no NATS, no other process.

One turn here is the gateway's whole path: a masked client frame into a real Socket (inbox,
wire protocol), the XPARO adapter (commands.py), Conversations and TurnNumbers, the real
LimitedBridge with BatchPublish and its trace headers, and back: the reply routing (decode,
trace ids bound), dedupe, the adapter's reply frame, the outbox writing it. NATS is replaced by
an in-process echo: a published turn is acked at once and answered on its session's reply
subject with the headers a dialog writes; the transport drops what is written. What this
costs is Python in the gateway process only, measured with time.process_time (best of
`--rounds`), so it can be profiled deterministically (`--profile`): py-spy on a loaded machine
charges time to wherever a process was preempted. On a shared machine the µs vary by 20% from
run to run; `--profile` also prints the Python function calls per turn, which do not.

    PYTHONPATH=$PWD .venv/bin/python bench/gateway_path.py [--turns 20000] [--sockets 50]
        [--rounds 3] [--profile 40] [--freeze]
"""

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import uvloop
from nats.aio.msg import Msg
from websockets.frames import Frame, Opcode

from services.gateway.bus.bridge import LimitedBridge
from services.gateway.edge.limits import UNLIMITED
from services.gateway.edge.sockets import Socket
from services.gateway.protocols.xparo.commands import XparoAdapter
from shared.identity import Project

Callback = Callable[[Msg], Awaitable[None]]


class DropTransport(asyncio.Transport):
    """A transport that takes every write and sends nothing."""

    def write(self, data: Any) -> None:
        return None

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


class EchoNats:
    """nats-py's client as the gateway uses it: a JetStream publish (a reply subject) is acked
    and answered at once, as a stream and a dialog would, each in a task of its own (nats-py
    runs every subscription's callbacks in its own task)."""

    def __init__(self) -> None:
        self._subs: dict[str, Callback] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inbox = 0
        self._seq = 0

    def new_inbox(self) -> str:
        self._inbox += 1
        return f"_INBOX.probe{self._inbox}"

    async def subscribe(self, subject: str, cb: Callback, **_: Any) -> "EchoNats":
        self._subs[subject.rstrip("*").rstrip(">")] = cb
        return self

    async def unsubscribe(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    def jetstream(self) -> Any:
        raise RuntimeError("no JetStream in the probe")

    async def publish(
        self, subject: str, data: bytes, reply: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self._seq += 1
        prefix = reply.rpartition(".")[0] + "."
        ack = Msg(self, reply, "", b'{"stream":"CHAT","seq":%d}' % self._seq)  # type: ignore[arg-type]
        self._spawn(self._subs[prefix](ack))
        turn = json.loads(data)
        answer, reply_headers = _answer(turn, headers or {})
        project = turn["project_key"].replace("-", "")
        to = f"chat.reply.{project}.{turn['session_id']}"
        reply_msg = Msg(self, to, "", answer, reply_headers)  # type: ignore[arg-type]
        self._spawn(self._subs["chat.reply.*."](reply_msg))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _answer(turn: dict[str, Any], headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The dialog's TurnAnswered to `turn`, as it is published (JSON body and headers)."""
    event_id = str(uuid4())
    body = json.dumps(
        {
            "event_id": event_id,
            "occurred_at": "2026-12-06T23:30:00.000000Z",
            "correlation_id": turn["correlation_id"],
            "causation_id": turn["event_id"],
            "project_key": turn["project_key"],
            "session_id": turn["session_id"],
            "turn_event_id": turn["event_id"],
            "text": "echo",
            "engine": "aiml",
            "content_version": 1,
            "protocol": "xparo",
            "stage": "test",
            "parts": [],
            "said_before": [],
        }
    )
    trace = headers.get("traceparent", "00-" + "1" * 32 + "-" + "2" * 16 + "-00")
    return body.encode(), {
        "content-type": "application/json",
        "Nats-Msg-Id": event_id,
        "correlation_id": turn["correlation_id"],
        "traceparent": trace[:36] + "3" * 16 + "-00",
        "Nats-Expected-Stream": "CHAT",
    }


class NoResume:
    """No gateway stopped before this one: nothing to resume."""

    def hold(self, _owner: object) -> None:
        return None

    def release(self, _owner: object) -> None:
        return None

    async def take(self, _name: str) -> None:
        return None


class Broker:
    def __init__(self, nc: EchoNats) -> None:
        self.connection = nc


def client_frame(text: str) -> bytes:
    """`text` as a browser sends it: one masked text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def open_sockets(count: int, bridge: LimitedBridge) -> list[Socket]:
    """`count` XPARO sockets of one project, each its own session, started as serve() does."""
    project = Project(key=uuid4(), name="probe", secret_hash="-", secret_prefix="-")  # noqa: S106
    sockets = []
    for n in range(count):
        sock = Socket.opened(DropTransport(), protocol="xparo")
        adapter = XparoAdapter(
            sock.send_json,
            project=project,
            bridge=bridge,
            tokens=None,  # type: ignore[arg-type]
            session_id=f"probe{n}",
            robot_id=None,
            reply_wait_s=5.0,
            link={},
            live=False,
            meter=sock.meter,
        )
        await adapter.start()
        seat = UNLIMITED.seat()
        assert seat is not None
        sock.attach(adapter, seat, sockets=None, restart=1012, on_bytes=None)
        sockets.append(sock)
    return sockets


async def converse(sock: Socket, turns: int, frame: bytes) -> None:
    """Ask `turns` times on `sock`, each after the previous one was answered."""
    for _ in range(turns):
        sock.data_received(frame)
        task = sock._task
        assert task is not None
        await task


async def run(turns: int, count: int, sockets: list[Socket]) -> float:
    frame = client_frame(json.dumps({"ask_bot": "hello there"}))
    each = max(turns // count, 1)
    started = time.process_time()
    await asyncio.gather(*(converse(sock, each, frame) for sock in sockets))
    return (time.process_time() - started) / (each * count)


async def main(args: argparse.Namespace) -> None:
    nc = EchoNats()
    bridge = LimitedBridge(
        Broker(nc),  # type: ignore[arg-type]
        limits=UNLIMITED,
        request_timeout_s=5.0,
        partitions=16,
    )
    bridge.resume = NoResume()  # type: ignore[assignment]
    sockets = await open_sockets(args.sockets, bridge)
    await run(args.sockets * 20, args.sockets, sockets)  # warm: imports, caches, first follows
    if args.freeze:  # as the telemetry service does once started (services/telemetry/main.py)
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
    collected = _GcTime()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await run(args.turns, args.sockets, sockets)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(args.profile)
        turns = args.turns // args.sockets * args.sockets
        calls = stats.total_calls  # type: ignore[attr-defined]
        print(f"Python function calls per turn: {calls / turns:.1f} (deterministic)")
        return
    gc.callbacks.append(collected)
    rounds = []
    for _ in range(args.rounds):
        collected.spent = 0.0
        rounds.append((await run(args.turns, args.sockets, sockets), collected.spent))
    gc.callbacks.remove(collected)
    best, in_gc = min(rounds)
    turns = args.turns // args.sockets * args.sockets
    print(
        f"gateway CPU per XPARO turn: {best * 1e6:.1f} µs (best of {args.rounds}), "
        f"{in_gc / turns * 1e6:.1f} µs of it in the garbage collector"
    )


class _GcTime:
    """CPU seconds the garbage collector took since `spent` was last set to 0."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.spent += time.process_time() - self._started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20000)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    parser.add_argument(
        "--freeze", action="store_true", help="gc.freeze() the started heap, fewer collections"
    )
    uvloop.run(main(parser.parse_args()))
