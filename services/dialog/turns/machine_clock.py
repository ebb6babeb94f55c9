"""The state machines' clock: conditions checked every second, not only on the next message
(BESSER checks every `check_transitions_delay`, 1 s).

A session whose machine waits in a state with conditions (variables, time of day) is marked in
its state (`_machine.watch`: the stage it talks to). Every `DIALOG_MACHINE_TICK_S` each dialog
replica reads the marked sessions of the turn partitions it owns, and for each whose condition
holds now it publishes a `tick` turn into the session's partition, like a user's turn: answered
in order with the session's other turns, by its partition's one owner, kept in the transcript
and pushed to the session's sockets as a reply (RSVP.ai, which has no push, hears it ahead of
its next answer). The tick's id is derived from the session's version, so a tick published
again before it was answered (the next second, or by a replica that took the partition over)
is the same message: JetStream and the stored turns drop the repeat. Answering it checks the
condition again: a user's turn that moved the session first leaves the tick nothing to do.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, cast, get_args
from uuid import UUID, uuid5

from shared import subjects
from shared.contracts import TurnReceived
from shared.contracts.chat import Protocol
from shared.contracts.knowledge import Stage
from shared.db import Database
from shared.retry import reason

from ..content.versions import EMPTY
from ..engines.brain import Brain
from ..engines.chain import MACHINE, WATCH
from .application import TurnApp

log = logging.getLogger(__name__)
CHANNEL = "machine-clock"  # the ticks' channel: seq 1 always, never waiting on another turn
_TICKS = UUID("7f0c0f5e-3d1b-4a8e-9d0c-6b1f4f5f2a11")
WATCHED = (
    "SELECT project_key, session_id, protocol, data, state, version FROM dialog.sessions"
    " WHERE (state -> '_machine') ? 'watch' AND handoff IS NULL"
    " AND last_at > now() - make_interval(secs => $1)"
)
Publish = Callable[[str, TurnReceived], Awaitable[None]]


def tick_id(*, project: UUID, session: str, version: int) -> UUID:
    """The one id of the tick for a session at `version` (the repeat of a tick is dropped)."""
    return uuid5(_TICKS, f"{project}/{session}/{version}")


class MachineClock:
    """Publishes a tick turn for each waiting session (of the partitions `owned()` names) whose
    machine's condition holds, every `every_s`; sessions silent for longer than `idle_s` are
    left to their next message."""

    def __init__(
        self,
        app: TurnApp,
        database: Database,
        *,
        owned: Callable[[], Iterable[int]],
        partitions: int,
        every_s: float,
        publish: Publish,
        idle_s: float = 86_400.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._app = app
        self._db = database
        self._owned = owned
        self._partitions = partitions
        self._every_s = every_s
        self._publish = publish
        self._idle_s = idle_s
        self._now = now
        self._task: asyncio.Task[None] | None = None

    def run(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="machine clock")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.tick()
            except Exception as err:  # Postgres or NATS away: the next second tries again
                log.warning("state machine conditions not checked: %s", reason(err))

    async def tick(self) -> int:
        """Check the waiting sessions of the owned partitions once; how many ticks went out."""
        owned = set(self._owned())
        if not owned:
            return 0
        rows = await self._db.pool.fetch(WATCHED, self._idle_s)
        now, sent = self._now(), 0
        versions: dict[tuple[UUID, Stage], int] = {}
        for row in rows:
            if subjects.partition_of(row["session_id"], self._partitions) not in owned:
                continue
            try:
                sent += await self._check(row, now, versions)
            except Exception as err:  # one project's content must not stop the others' checks
                log.warning(
                    "conditions of session %s (project %s) not checked: %s",
                    row["session_id"],
                    row["project_key"],
                    reason(err),
                )
        return sent

    async def _check(self, row: Any, now: datetime, versions: dict[tuple[UUID, Stage], int]) -> int:
        """Tick `row`'s session if its condition holds `now` (1), else nothing (0)."""
        machine = (row["state"] or {}).get(MACHINE) or {}
        stage, protocol = machine.get(WATCH), row["protocol"]
        if stage not in get_args(Stage) or protocol not in get_args(Protocol):
            return 0
        key = (row["project_key"], cast("Stage", stage))
        if key not in versions:
            versions[key] = await self._app.cache.version(*key)
        brain = await self._brain(row["project_key"], versions[key])
        if brain.machine is None or not brain.machine.due(machine, row["data"], now):
            return 0
        await self._send(row, key[1], cast("Protocol", protocol))
        return 1

    async def _send(self, row: Any, stage: Stage, protocol: Protocol) -> None:
        project, session = row["project_key"], row["session_id"]
        event_id = tick_id(project=project, session=session, version=row["version"])
        turn = TurnReceived(
            event_id=event_id,
            correlation_id=event_id,
            project_key=project,
            session_id=session,
            protocol=protocol,
            text="",
            channel=CHANNEL,
            seq=1,
            stage=stage,
            event="tick",
        )
        subject = subjects.chat_turn(project, session, partitions=self._partitions)
        await self._publish(subject, turn)

    async def _brain(self, project: UUID, version: int) -> Brain:
        """The version's brain (built once per replica and kept, as the turn path's)."""
        brains = self._app.brains
        brain = brains.get(project, version)
        if brain is None:
            content = await self._app.content.get(project, version=version) if version else EMPTY
            brain = await self._app.files.brain(project, content)
            brains.put(project, brain)
        return brain
