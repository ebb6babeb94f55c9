"""The state machines' clock on real NATS and Postgres: a condition that became true is one tick
turn however many replicas (an old owner and the one that took its partition over, or a
restarted one) find it, and answering that tick again answers nothing new."""

from collections.abc import AsyncIterator
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.dialog.turns.machine_clock import MachineClock
from services.dialog.turns.outcomes import Arrived
from shared import subjects
from shared.broker import ensure_streams
from shared.contracts import TurnAnswered, TurnReceived, UpdateSession
from shared.contracts.content import SaveKnowledge
from shared.contracts.machine import StateMachine
from tests.support.backends import Backends

from .dialog_replicas import Replica

PARTITIONS = 2
MACHINE = StateMachine.parse(
    {
        "initial": "menu",
        "intents": [{"name": "pizza", "sentences": ["pizza please"]}],
        "states": {
            "menu": {
                "body": [{"text": "What would you like?"}],
                "transitions": [{"when": "intent_matched", "intent": "pizza", "to": "pay"}],
            },
            "pay": {
                "body": [{"text": "Pay, I will wait."}],
                "transitions": [{"when": "condition", "if": "vars.paid", "to": "paid"}],
            },
            "paid": {"body": [{"text": "Thanks for paying!"}]},
        },
    }
)


@pytest.fixture
async def nc(backends: Backends) -> AsyncIterator[NatsClient]:
    client = await nats.connect(backends.nats_url)
    await ensure_streams(client.jetstream())
    yield client
    await client.close()


async def _nothing(replies: list[TurnAnswered]) -> None:
    return None


async def test_a_true_condition_is_one_tick_whichever_replicas_find_it(
    dialog_replicas: list[Replica], nc: NatsClient
) -> None:
    """Both the old owner and the new one (or a restarted replica) tick the waiting session:
    JetStream keeps one tick; answering it says the thanks once, and a second delivery of it is
    a duplicate of that answer; then the session waits on nothing and no clock ticks it."""
    (a, a_db), (b, b_db) = ((r.app, r.db) for r in dialog_replicas)
    project, session = uuid4(), f"s{uuid4().hex[:8]}"
    await a.save_knowledge(
        SaveKnowledge(project_key=project, machine=MACHINE, correlation_id=uuid4())
    )
    asked = TurnReceived.first(
        project_key=project,
        session_id=session,
        protocol="besser",
        text="pizza please",
        channel="c",
        seq=1,
    )
    [waiting] = await a.answer_turns([Arrived(asked)], publish=_nothing)
    assert waiting.reply is not None and waiting.reply.text == "Pay, I will wait."
    await a.update_session(
        UpdateSession(
            project_key=project, session_id=session, data={"paid": True}, correlation_id=uuid4()
        )
    )
    js = nc.jetstream()
    published: list[TurnReceived] = []

    async def publish(subject: str, turn: TurnReceived) -> None:
        published.append(turn)
        await js.publish(
            subject, turn.model_dump_json().encode(), headers={"Nats-Msg-Id": str(turn.event_id)}
        )

    clocks = [
        MachineClock(
            app,
            db,
            owned=lambda: range(PARTITIONS),
            partitions=PARTITIONS,
            every_s=1,
            publish=publish,
        )
        for app, db in ((a, a_db), (b, b_db))
    ]
    for clock in clocks:
        assert await clock.tick() >= 1
    ticks = [t for t in published if t.session_id == session]
    assert len(ticks) == 2 and ticks[0].event_id == ticks[1].event_id
    subject = subjects.chat_turn(project, session, partitions=PARTITIONS)
    info = await js.stream_info(subjects.CHAT_STREAM, subjects_filter=subject)
    assert info.state.subjects == {subject: 1}

    [answered] = await b.answer_turns([Arrived(ticks[0])], publish=_nothing)
    assert answered.kind == "answered" and answered.reply is not None
    assert answered.reply.text == "Thanks for paying!"
    [again] = await a.answer_turns([Arrived(ticks[1])], publish=_nothing)
    assert again.kind == "duplicate" and again.reply is not None
    assert again.reply.event_id == answered.reply.event_id
    published.clear()
    for clock in clocks:
        await clock.tick()
    assert [t for t in published if t.session_id == session] == []
    said = await b.turns.said_since(project, session)
    assert said == ["Thanks for paying!"]  # what RSVP hears ahead of its next answer


async def test_a_tick_in_the_same_batch_as_an_rsvp_turn_is_heard_with_it(
    dialog_replicas: list[Replica],
) -> None:
    """RSVP has no push: what the clock says is heard ahead of the user's next answer, also when
    the tick and that turn are answered in one batch (the tick is not written yet then)."""
    a, a_db = dialog_replicas[0].app, dialog_replicas[0].db
    project, session = uuid4(), f"s{uuid4().hex[:8]}"
    await a.save_knowledge(
        SaveKnowledge(project_key=project, machine=MACHINE, correlation_id=uuid4())
    )

    def said(text: str, seq: int) -> TurnReceived:
        return TurnReceived.first(
            project_key=project,
            session_id=session,
            protocol="rsvp",
            text=text,
            channel="c",
            seq=seq,
        )

    [waiting] = await a.answer_turns([Arrived(said("pizza please", 1))], publish=_nothing)
    assert waiting.reply is not None and waiting.reply.text == "Pay, I will wait."
    await a.update_session(
        UpdateSession(
            project_key=project, session_id=session, data={"paid": True}, correlation_id=uuid4()
        )
    )
    published: list[TurnReceived] = []

    async def publish(subject: str, turn: TurnReceived) -> None:
        published.append(turn)

    clock = MachineClock(
        a, a_db, owned=lambda: range(PARTITIONS), partitions=PARTITIONS, every_s=1, publish=publish
    )
    assert await clock.tick() >= 1
    [tick] = [t for t in published if t.session_id == session]
    outcomes = await a.answer_turns([Arrived(tick), Arrived(said("hello", 2))], publish=_nothing)
    assert [o.kind for o in outcomes] == ["answered", "answered"]
    answer = outcomes[1].reply
    assert answer is not None and answer.said_before == ["Thanks for paying!"]
