"""Turn partitions on real NATS and Postgres: one owner at a time, a stale owner fenced, a dead
owner's partitions taken over by another replica."""

import asyncio
from uuid import UUID, uuid4

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from services.dialog.config import DialogSettings
from services.dialog.turns.known import KnownSessions
from services.dialog.turns.outcomes import Arrived
from services.dialog.turns.owners import PartitionedTurns
from services.dialog.turns.partitions import Claim, Fenced, take_over
from shared import subjects
from shared.broker import ensure_streams
from shared.contracts import (
    BotContentRejected,
    SaveBotContent,
    TurnAnswered,
    TurnReceived,
    UpdateSession,
)
from tests.support.backends import Backends
from tests.support.waits import wait_until

from .dialog_replicas import Replica

PARTITIONS = 2


def _turn(project: UUID, session: str, text: str, seq: int = 1) -> TurnReceived:
    return TurnReceived.first(
        project_key=project, session_id=session, protocol="xparo", text=text, channel="c", seq=seq
    )


async def _nothing(replies: list[TurnAnswered]) -> None:
    return None


async def test_a_stale_owners_batch_is_refused_after_a_takeover(
    dialog_replicas: list[Replica], backends: Backends
) -> None:
    """Replica B took partition 0 over from A (a newer generation): A's next batch of that
    partition raises Fenced and stores nothing, B's is stored."""
    consumer = f"fence{uuid4().hex[:8]}"
    a, b = Claim(consumer, 0, 1), Claim(consumer, 0, 2)
    assert await take_over(dialog_replicas[0].db, a)
    assert await take_over(dialog_replicas[1].db, b)
    assert not await take_over(dialog_replicas[0].db, a)  # an older generation never comes back
    project = uuid4()
    stale, fresh = _turn(project, "s", "from a"), _turn(project, "s", "from b")
    with pytest.raises(Fenced):
        await dialog_replicas[0].app.answer_turns([Arrived(stale)], publish=_nothing, claim=a)
    [outcome] = await dialog_replicas[1].app.answer_turns(
        [Arrived(fresh)], publish=_nothing, claim=b
    )
    assert outcome.kind == "answered"
    stored = await dialog_replicas[0].app.turns.stored([stale.event_id, fresh.event_id])
    assert list(stored) == [fresh.event_id]


async def _replies(nc: NatsClient, project: UUID) -> asyncio.Queue[TurnAnswered]:
    got: asyncio.Queue[TurnAnswered] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        await got.put(TurnAnswered.model_validate_json(msg.data))

    await nc.subscribe(subjects.chat_project_replies(project), cb=on_reply)
    return got


async def test_a_dead_owners_partitions_are_taken_over_and_their_turns_answered_in_order(
    dialog_replicas: list[Replica], backends: Backends
) -> None:
    """A second replica gets one of the first one's two partitions; then the owner of session
    s's partition dies without giving it up: after its lease ends the other replica owns both
    partitions and answers s's turns, the ones sent while nobody answered included, in order."""
    settings = DialogSettings(durable=f"own{uuid4().hex[:8]}", lease_s=1.0, ack_wait_s=1.5)
    nc = await nats.connect(backends.nats_url)
    await ensure_streams(nc.jetstream())
    project, session = uuid4(), "s"
    got = await _replies(nc, project)
    for replica in dialog_replicas:
        replica.turns = PartitionedTurns(replica.app, settings, replica.db, partitions=PARTITIONS)

    async def first_owns_all() -> bool:
        return dialog_replicas[0].turns is not None and dialog_replicas[0].turns.owned == [0, 1]

    assert dialog_replicas[0].turns is not None and dialog_replicas[1].turns is not None
    await dialog_replicas[0].turns.start(nc)
    await wait_until(first_owns_all, within_s=20, what="the first replica owning both")
    await dialog_replicas[1].turns.start(nc)

    async def shared() -> bool:
        owned = [r.turns.owned for r in dialog_replicas if r.turns is not None]
        return sorted(p for o in owned for p in o) == [0, 1] and all(len(o) == 1 for o in owned)

    await wait_until(shared, within_s=20, what="one partition each")
    partition = subjects.partition_of(session, PARTITIONS)
    owner, other = sorted(
        dialog_replicas, key=lambda r: r.turns is None or partition not in r.turns.owned
    )
    js = nc.jetstream()

    async def send(seq: int) -> UUID:
        turn = _turn(project, session, f"turn {seq}", seq)
        subject = subjects.chat_turn(project, session, partitions=PARTITIONS)
        headers = {"Nats-Msg-Id": str(turn.event_id)}
        await js.publish(subject, turn.model_dump_json().encode(), headers=headers)
        return turn.event_id

    sent = [await send(1)]
    first = await asyncio.wait_for(got.get(), 20)
    assert owner.turns is not None
    await owner.turns.halt()  # as kill -9: its lease is left to expire
    owner.turns = None
    sent += [await send(seq) for seq in (2, 3, 4)]
    later = [await asyncio.wait_for(got.get(), 30) for _ in range(3)]
    assert [r.turn_event_id for r in [first, *later]] == sent

    async def other_owns_both() -> bool:  # a 1 s lease on a loaded machine can change hands
        return other.turns is not None and other.turns.owned == [0, 1]  # for a moment first

    await wait_until(other_owns_both, within_s=20, what="the survivor owning both partitions")

    async def all_stored() -> bool:  # an answer leaves before its batch commits
        return len(await other.app.turns.stored(sent)) == len(sent)

    await wait_until(all_stored, within_s=10, what="the four turns stored")
    stored = await other.app.turns.stored(sent)
    assert [row.question for row in sorted(stored.values(), key=lambda r: r.id or 0)] == [
        "turn 1",
        "turn 2",
        "turn 3",
        "turn 4",
    ]
    await nc.close()


GREET = '<category><pattern>HI</pattern><template>Hi <get name="first_name"/></template></category>'


async def test_an_owner_answers_from_data_merged_after_it_last_wrote_the_session(
    dialog_replicas: list[Replica], backends: Backends
) -> None:
    """The owner keeps the sessions it wrote; data merged into one afterwards (by any replica)
    is what its next turn is answered with (the kept row is refused and read again)."""
    project, replica = uuid4(), dialog_replicas[0]
    saved = await replica.app.save_content(
        SaveBotContent(project_key=project, aiml=GREET, correlation_id=uuid4())
    )
    assert not isinstance(saved, BotContentRejected)
    claim = Claim(f"known{uuid4().hex[:8]}", 0, 1)
    assert await take_over(replica.db, claim)
    known = KnownSessions()
    said: list[str] = []

    async def publish(replies: list[TurnAnswered]) -> None:
        said.extend(r.text for r in replies)

    async def turn(seq: int) -> str:
        arrived = [Arrived(_turn(project, "s", "hi", seq))]
        outcomes = await replica.app.answer_turns(
            arrived, publish=publish, claim=claim, known=known
        )
        while outcomes[0].kind == "refused":  # as the loop does: again, from the new row
            outcomes = await replica.app.answer_turns(
                arrived, publish=publish, claim=claim, known=known
            )
        return said[-1]

    assert await turn(1) == "Hi"
    await dialog_replicas[1].app.update_session(
        UpdateSession(
            project_key=project, session_id="s", data={"first_name": "Ada"}, correlation_id=uuid4()
        )
    )
    assert await turn(2) == "Hi Ada"


async def test_a_turn_answered_again_without_a_look_up_is_stored_and_sent_once(
    dialog_replicas: list[Replica], backends: Backends
) -> None:
    """A turn on its first delivery is answered without looking it up; the same turn once more
    (published twice) has that batch's write undone and goes out as its stored reply, the
    session written once."""
    project, replica = uuid4(), dialog_replicas[0]
    claim = Claim(f"again{uuid4().hex[:8]}", 0, 1)
    assert await take_over(replica.db, claim)
    known, sent = KnownSessions(), list[TurnAnswered]()

    async def publish(replies: list[TurnAnswered]) -> None:
        sent.extend(replies)

    turn = _turn(project, "s", "hello")
    first = await replica.app.answer_turns(
        [Arrived(turn)], publish=publish, claim=claim, known=known
    )
    again = await replica.app.answer_turns(
        [Arrived(turn)], publish=publish, claim=claim, known=known
    )
    assert [first[0].kind, again[0].kind] == ["answered", "duplicate"]
    assert len(sent) == 2 and sent[0] == sent[1]
    assert list(await replica.app.turns.stored([turn.event_id])) == [turn.event_id]
    [session] = (await replica.app.turns.read_sessions([(project, "s")])).values()
    assert session is not None and session.version == 1
