"""Reading a stream from its oldest message, for one project or all, without disturbing the
live consumers."""

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared import subjects

FETCH_BATCH = 256
FETCH_WAIT_S = 2.0


def project_subjects(patterns: Sequence[str], project: UUID | None) -> list[str]:
    """The filter subjects for one project (every project: `patterns` themselves). Subjects
    name the namespace first and the project as their first id, so the first `*` is it."""
    if project is None:
        return list(patterns)
    return [pattern.replace("*", subjects.token(project), 1) for pattern in patterns]


def subject_matches(subject: str, pattern: str) -> bool:
    """NATS wildcard matching: `*` is one token, a final `>` one or more."""
    have, want = subject.split("."), pattern.split(".")
    if want and want[-1] == ">":
        return len(have) >= len(want) and all(
            w in ("*", h) for h, w in zip(have, want[:-1], strict=False)
        )
    return len(have) == len(want) and all(w in ("*", h) for h, w in zip(have, want, strict=True))


async def oldest_message(js: JetStreamContext, stream: str) -> datetime | None:
    """When the oldest message the stream still holds was stored (None: it is empty)."""
    info = await js.stream_info(stream)
    if not info.state.messages:
        return None
    try:
        found = await js.get_msg(stream, seq=info.state.first_seq, next=True)
    except NotFoundError:
        return None
    return found.time


@dataclass
class StreamRead:
    """What one replay read from one stream."""

    stream: str
    read: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        """Count a message that was not applied, by reason."""
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def line(self) -> str:
        span = f"{timestamp(self.oldest)} .. {timestamp(self.newest)}" if self.read else "nothing"
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return f"{self.stream}: {self.read} messages ({span})" + (
            f"; skipped {skipped}" if skipped else ""
        )


def timestamp(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


async def stream_messages(
    js: JetStreamContext, stream: str, filters: Sequence[str], progress: StreamRead
) -> AsyncIterator[Msg]:
    """Every message of `stream` on `filters`, oldest first, up to the newest one stored when
    the read began (traffic arriving meanwhile is left for the next replay).

    An ephemeral consumer that acknowledges nothing: live consumers keep their positions, and
    the server drops it when the read ends (or soon after a crash)."""
    last = (await js.stream_info(stream)).state.last_seq
    name = f"replay_{uuid4().hex}"
    config = ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subjects=list(filters),
        inactive_threshold=60.0,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    try:
        if info.num_pending == 0:
            return
        feed = await js.pull_subscribe_bind(consumer=name, stream=stream)
        while True:
            try:
                batch = await feed.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
            except NatsTimeout:
                return  # nothing more (messages deleted or expired meanwhile)
            for msg in batch:
                meta = msg.metadata
                if meta.sequence.stream > last:
                    return
                progress.read += 1
                progress.oldest = progress.oldest or meta.timestamp
                progress.newest = meta.timestamp
                yield msg
                if meta.num_pending == 0 or meta.sequence.stream == last:
                    return
    finally:
        with contextlib.suppress(NotFoundError):  # already gone: inactive for too long
            await js.delete_consumer(stream, name)
