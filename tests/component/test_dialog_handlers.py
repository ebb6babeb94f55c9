"""Dialog handlers on FastStream's TestNatsBroker, with in-memory stores (dialog_rig.py)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from faststream.nats import TestNatsBroker

from services.dialog.turns.outcomes import Arrived
from shared import subjects
from shared.contracts import SaveBotContent, TurnAnswered, TurnReceived

from .dialog_rig import make

HI = "<category><pattern>HI</pattern><template>hello</template></category>"


async def test_a_turn_is_answered_and_a_redelivery_repeats_the_same_reply() -> None:
    """The reply answers the turn (causation = turn id); the same turn again is not recomputed."""
    rig = make()
    project = uuid4()
    await rig.app.content.save(
        SaveBotContent(project_key=project, aiml=HI, correlation_id=uuid4()), 1
    )
    turn = TurnReceived.first(
        project_key=project, session_id="s", protocol="xparo", text="hi", channel="c", seq=1
    )
    async with TestNatsBroker(rig.broker):
        for _ in range(2):
            await rig.send(turn)
    replies = rig.replies
    assert [r.text for r in replies] == ["hello", "hello"]
    assert replies[0] == replies[1] and replies[0].protocol == "xparo"
    assert replies[0].causation_id == turn.event_id and len(rig.turns.rows) == 1


async def test_unmatched_turn_gets_the_default_fallback() -> None:
    """No AIML saved: the document's fallback sentence answers, marked as the fallback engine."""
    rig = make()
    project = uuid4()
    turn = TurnReceived.first(
        project_key=project, session_id="s", protocol="xparo", text="??", channel="c", seq=1
    )
    async with TestNatsBroker(rig.broker):
        await rig.send(turn)
    replies = rig.replies
    assert (replies[0].text, replies[0].engine) == (
        "let's check this thing on internet",
        "fallback",
    )


async def test_save_request_answers_saved_or_rejected() -> None:
    """Valid AIML is saved as the next version; broken AIML is rejected with its problems."""
    rig = make()
    project = uuid4()
    async with TestNatsBroker(rig.broker) as test:
        ok = await test.request(
            SaveBotContent(project_key=project, aiml=HI, correlation_id=uuid4()),
            subjects.dialog_content_save(project),
        )
        bad = await test.request(
            SaveBotContent(project_key=project, aiml="<category>", correlation_id=uuid4()),
            subjects.dialog_content_save(project),
        )
    assert (await ok.decode())["version"] == 1  # type: ignore[index]
    assert (await bad.decode())["kind"] == "rejected"  # type: ignore[index]
    assert rig.app.brains.versions(project) == [1]  # built before the reply


async def test_a_reset_right_after_a_reset_is_taken_in_order_but_not_answered_again() -> None:
    """Resets within DIALOG_RESET_REPEAT_S (3 s) of the previous reset, nothing said between,
    are neither answered nor kept (the window slides with them) and do not hold the next turn
    back as early; a reset after a message, or after a quiet window, is answered."""
    rig = make()
    project, start = uuid4(), datetime.now(UTC)
    await rig.app.content.save(
        SaveBotContent(project_key=project, aiml=HI, correlation_id=uuid4()), 1
    )
    published: list[TurnAnswered] = []

    async def publish(replies: list[TurnAnswered]) -> None:
        published.extend(replies)

    def received(
        seq: int, after_s: float, event: str = "reset", text: str = "", session: str = "s"
    ) -> Arrived:
        return Arrived(
            TurnReceived.first(
                project_key=project,
                session_id=session,
                protocol="besser",
                text=text,
                event=event,
                channel="c",
                seq=seq,
                occurred_at=start + timedelta(seconds=after_s),
            )
        )

    async def batch(*turns: Arrived) -> list[str]:
        return [o.kind for o in await rig.app.answer_turns(list(turns), publish=publish)]

    assert await batch(received(1, 0)) + await batch(received(2, 2), received(3, 4)) == [
        "answered",
        "repeat",
        "repeat",  # 4 s after the answered reset, 2 s after the last one: the loop stays quiet
    ]
    assert await batch(received(4, 5, event="text", text="hi")) == ["answered"]  # not early
    assert await batch(received(5, 5)) == ["answered"]  # something was said since the last reset
    assert await batch(received(6, 9)) == ["answered"]  # 4 s after the previous reset
    # A loop arriving in one batch: the first reset is answered, its repeats are not.
    loop = [received(n, n - 1, session="looping") for n in (1, 2, 3)]
    assert await batch(*loop) == [
        "answered",
        "repeat",
        "repeat",
    ]
    assert len(rig.turns.rows) == len(published) == 5
