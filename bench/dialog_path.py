"""The dialog's in-process CPU per turn: `TurnBatch.handle` on batches of turns, each from its
own session, on the component tests' in-memory stores with their session reads and writes
made free, so what is left is the turn path's own work (decode, trace headers, the chain and
ALICE-free echo AIML, the reply, the transcript record, settling). Not part of `make bench`.

    PYTHONPATH=$PWD .venv/bin/python bench/dialog_path.py [--batch 11] [--batches 2000]
"""

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

from services.dialog.config import DialogSettings
from services.dialog.turns.loop import TurnBatch
from services.dialog.turns.partitions import Claim
from services.dialog.turns.stream import reply_headers
from shared.contracts import SaveBotContent, TurnReceived
from tests.component.dialog_rig import DeliveredTurn, make

ECHO = "<category><pattern>SAY *</pattern><template><star/></template></category>"
TRACE = {
    "content-type": "application/json",
    "Nats-Msg-Id": str(uuid4()),
    "correlation_id": str(uuid4()),
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
}


class FreeSessions:
    """The memory store with session reads and writes that cost nothing (a partition owner
    keeps its sessions in memory; their SQL is not what this probe measures)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def read_sessions(self, keys: Sequence[tuple[UUID, str]]) -> dict[Any, Any]:
        return {}

    @asynccontextmanager
    async def write(self, claim: object = None) -> AsyncIterator["FreeSessions"]:
        yield self

    async def save(self, sessions: Sequence[Any], turns: Sequence[Any]) -> set[Any]:
        return set()


async def measure(size: int, batches: int) -> float:
    """Best of 3: µs of CPU per turn."""
    rig = make()
    project = uuid4()
    await rig.app.content.save(
        SaveBotContent(project_key=project, aiml=ECHO, correlation_id=uuid4()), 1
    )
    rig.app.turns = FreeSessions(rig.app.turns)  # type: ignore[assignment]

    async def publish(replies: list[tuple[Any, dict[str, str]]]) -> None:
        for reply, trace in replies:  # what the real publisher does with each reply
            reply.model_dump_json().encode()
            reply_headers(reply, trace)

    claim = Claim(consumer="probe", partition=0, generation=1)
    handler = TurnBatch(rig.app, DialogSettings(), publish, claim=claim)
    seqs = {f"s{n}": 0 for n in range(size)}

    def batch() -> list[DeliveredTurn]:
        made = []
        for session in seqs:
            seqs[session] += 1
            turn = TurnReceived.first(
                project_key=project,
                session_id=session,
                protocol="xparo",
                text=f"say hello {seqs[session]}",
                channel=f"c{session}",
                seq=seqs[session],
            )
            delivered = DeliveredTurn(turn)
            delivered.headers = dict(TRACE)
            made.append(delivered)
        return made

    for _ in range(50):
        await handler.handle(batch())  # type: ignore[arg-type]
    best = float("inf")
    for _ in range(3):
        ready = [batch() for _ in range(batches)]
        started = time.process_time()
        for msgs in ready:
            await handler.handle(msgs)  # type: ignore[arg-type]
        best = min(best, (time.process_time() - started) / (batches * size) * 1e6)
        assert all(d.settled == ["ack"] for d in ready[-1]), ready[-1][0].settled
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=11, help="turns per batch (sessions)")
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    took = asyncio.run(measure(args.batch, args.batches))
    print(f"dialog turn path in process: {took:.1f} µs of CPU per turn (best of 3)")


if __name__ == "__main__":
    main()
