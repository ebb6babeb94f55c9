"""Dialog sessions on FastStream's TestNatsBroker: open, update, get, delete, say."""

from typing import Any
from uuid import UUID, uuid4

from faststream.nats import TestNatsBroker
from pydantic import BaseModel, TypeAdapter

from services.dialog.turns.outcomes import Arrived
from shared import subjects
from shared.contracts import (
    BotSpoke,
    DeleteSession,
    GetSession,
    OpenSession,
    SaveBotContent,
    SayToSession,
    SessionInfo,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    TurnReceived,
    UpdateSession,
)

from .dialog_rig import Rig, make

REPLY: TypeAdapter[SessionInfo | SessionUnknown] = TypeAdapter(SessionReply)
SAID: TypeAdapter[BotSpoke | SessionUnknown] = TypeAdapter(BotSpoke | SessionUnknown)
GREET = (
    '<category><pattern>HI</pattern><template>Hi <get name="first_name"/></template></category>'
    '<category><pattern>XIMAGE</pattern><template>got <get name="image"/></template></category>'
)


async def ask(test: Any, kind: str, request: BaseModel, project: UUID) -> Any:
    """Send a session request on `project`'s subject and decode the answer."""
    answer = await test.request(request, subjects.dialog_session(kind, project))
    adapter = SAID if kind == "say" else REPLY
    return adapter.validate_json(answer.body)


async def open_session(test: Any, project: UUID, **data: Any) -> SessionInfo:
    opened = await ask(
        test,
        "open",
        OpenSession(project_key=project, protocol="aida", data=data, correlation_id=uuid4()),
        project,
    )
    assert isinstance(opened, SessionInfo)
    return opened


def turn(project: UUID, session: str, text: str = "hi", **fields: Any) -> TurnReceived:
    return TurnReceived.first(
        project_key=project,
        session_id=session,
        protocol=fields.pop("protocol", "aida"),
        text=text,
        channel=fields.pop("channel", "c"),
        seq=fields.pop("seq", 1),
        **fields,
    )


async def save_greeting(rig: Rig, project: UUID) -> None:
    command = SaveBotContent(project_key=project, aiml=GREET, correlation_id=uuid4())
    await rig.app.content.save(command, 2)


async def test_an_opened_session_is_a_uuid_holding_its_protocol_and_data() -> None:
    """open answers a new plain-UUID session with its protocol and data; get finds it."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project, first_name="Ada", age=36)
        found = await ask(
            test, "get", GetSession(project_key=project, session_id=opened.session_id), project
        )
    assert str(UUID(opened.session_id)) == opened.session_id
    assert (opened.protocol, opened.data) == ("aida", {"first_name": "Ada", "age": 36})
    assert found == opened


async def test_another_projects_session_id_is_unknown() -> None:
    """A session id is only known in its own project, even on a well-addressed request."""
    rig, project, other = make(), uuid4(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        get = GetSession(project_key=other, session_id=opened.session_id)
        found = await ask(test, "get", get, other)
    assert found == SessionUnknown(session_id=opened.session_id, deleted=False)


async def test_a_request_naming_another_project_than_its_subject_gets_nothing() -> None:
    """A body for project A sent on project B's subject is answered unknown, changing nothing."""
    rig, project, other = make(), uuid4(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        update = UpdateSession(
            project_key=project,
            session_id=opened.session_id,
            data={"x": 1},
            correlation_id=uuid4(),
        )
        refused = await ask(test, "update", update, other)
        stray = OpenSession(project_key=project, protocol="aida", correlation_id=uuid4())
        not_opened = await ask(test, "open", stray, other)
    assert isinstance(refused, SessionUnknown) and isinstance(not_opened, SessionUnknown)
    assert len(rig.turns.sessions) == 1
    assert rig.turns.sessions[(project, opened.session_id)].data == {}


async def test_update_merges_data_into_a_live_session_only() -> None:
    """put_data merges keys into the data (and predicates); an unknown session stays unknown."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project, first_name="Ada", city="Paris")
        update = UpdateSession(
            project_key=project,
            session_id=opened.session_id,
            data={"first_name": "Grace", "vip": True},
            correlation_id=uuid4(),
        )
        merged = await ask(test, "update", update, project)
        missing = await ask(
            test, "update", update.model_copy(update={"session_id": "nope"}), project
        )
    assert merged.data == {"first_name": "Grace", "city": "Paris", "vip": True}
    state = rig.turns.sessions[(project, opened.session_id)].state
    assert (state["first_name"], state["vip"]) == ("Grace", "True")
    assert missing == SessionUnknown(session_id="nope", deleted=False)


async def test_session_data_is_said_by_the_aiml_and_replies_carry_the_sessions_protocol() -> None:
    """After put_data first_name, <get name="first_name"/> answers it; the reply says "aida"."""
    rig, project = make(), uuid4()
    await save_greeting(rig, project)
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        update = UpdateSession(
            project_key=project,
            session_id=opened.session_id,
            data={"first_name": "Ada"},
            correlation_id=uuid4(),
        )
        await ask(test, "update", update, project)
        await rig.send(turn(project, opened.session_id, protocol="xparo"))
    assert [(r.text, r.protocol) for r in rig.replies] == [("Hi Ada", "aida")]


async def test_a_session_a_turn_creates_records_the_turns_protocol() -> None:
    """XPARO's sessions start with their first turn: it records the protocol that spoke."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        await rig.send(turn(project, "robot-1", protocol="xparo-typed"))
        found = await ask(
            test, "get", GetSession(project_key=project, session_id="robot-1"), project
        )
    assert found == SessionInfo(session_id="robot-1", protocol="xparo-typed", data={})
    assert rig.replies[0].protocol == "xparo-typed"
    assert next(iter(rig.turns.rows.values())).protocol == "xparo-typed"


async def test_an_image_turn_is_heard_as_ximage_with_the_image_predicate() -> None:
    """An image turn answers the XIMAGE category, whose <get name="image"/> is the media id."""
    rig, project, image = make(), uuid4(), uuid4()
    await save_greeting(rig, project)
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        await rig.send(turn(project, opened.session_id, text="", image=image))
    assert rig.replies[0].text == f"got {image}"


async def test_delete_forgets_the_session_for_good_and_announces_it() -> None:
    """delete answers what it deleted, drops the transcript, announces SessionDeleted under the
    command's correlation and purges the replies; afterwards everything says deleted."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project, first_name="Ada")
        session = opened.session_id
        await rig.send(turn(project, session))
        delete = DeleteSession(project_key=project, session_id=session, correlation_id=uuid4())
        deleted = await ask(test, "delete", delete, project)
        gone = SessionUnknown(session_id=session, deleted=True)
        update = UpdateSession(
            project_key=project, session_id=session, data={"a": 1}, correlation_id=uuid4()
        )
        assert await ask(test, "update", update, project) == gone
        assert (
            await ask(test, "get", GetSession(project_key=project, session_id=session), project)
            == gone
        )
        say = SayToSession(
            project_key=project,
            session_id=session,
            text="hi",
            source="operator",
            correlation_id=uuid4(),
        )
        assert await ask(test, "say", say, project) == gone
    assert deleted == opened
    assert rig.turns.rows == {} and rig.purged == [(project, session)]
    [event] = rig.deleted
    assert (event.project_key, event.session_id) == (project, session)
    assert event.correlation_id == delete.correlation_id


async def test_a_turn_for_a_deleted_session_is_dropped_without_recreating_it() -> None:
    """After delete, a turn of that session is acked unanswered and the session stays gone."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        delete = DeleteSession(
            project_key=project, session_id=opened.session_id, correlation_id=uuid4()
        )
        await ask(test, "delete", delete, project)
        [delivered] = await rig.send(turn(project, opened.session_id))
        published: list[TurnAnswered] = []

        async def publish(replies: list[TurnAnswered]) -> None:
            published.extend(replies)

        [outcome] = await rig.app.answer_turns(
            [Arrived(turn(project, opened.session_id))], publish=publish
        )
    assert outcome.kind == "gone" and rig.replies == [] and published == []
    assert delivered.settled == ["ack"]
    assert rig.turns.sessions == {} and rig.turns.rows == {}


async def test_deleting_again_is_unknown_but_announces_the_same_event() -> None:
    """A repeated delete answers deleted, and re-announces under the one deletion id (deduped
    by the stream), so a first announcement lost to a crash is made up for."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        session = opened.session_id
        for _ in range(2):
            delete = DeleteSession(project_key=project, session_id=session, correlation_id=uuid4())
            answer = await ask(test, "delete", delete, project)
        never = DeleteSession(project_key=project, session_id="never", correlation_id=uuid4())
        unknown = await ask(test, "delete", never, project)
    assert answer == SessionUnknown(session_id=session, deleted=True)
    assert unknown == SessionUnknown(session_id="never", deleted=False)
    assert len(rig.deleted) == 2 and rig.deleted[0].event_id == rig.deleted[1].event_id
    assert rig.purged == [(project, session)] * 2


async def test_say_publishes_the_bots_message_on_the_sessions_reply_subject() -> None:
    """say answers the BotSpoke it published to the session (with its protocol); an unknown
    session is answered unknown and hears nothing."""
    rig, project = make(), uuid4()
    async with TestNatsBroker(rig.broker) as test:
        opened = await open_session(test, project)
        say = SayToSession(
            project_key=project,
            session_id=opened.session_id,
            text="Your order is ready",
            source="operator",
            correlation_id=uuid4(),
        )
        said = await ask(test, "say", say, project)
        nobody = await ask(test, "say", say.model_copy(update={"session_id": "nobody"}), project)
    assert isinstance(said, BotSpoke) and rig.replies == [said]
    assert (said.text, said.protocol, said.source) == ("Your order is ready", "aida", "operator")
    assert said.correlation_id == say.correlation_id
    assert nobody == SessionUnknown(session_id="nobody", deleted=False)


async def test_two_connections_on_one_session_are_each_answered_in_turn() -> None:
    """A user with two connections on one session (two tabs) speaks on each in turn: every
    turn is answered at once, none held back as early because the other connection spoke."""
    rig, project = make(), uuid4()
    published: list[TurnAnswered] = []

    async def publish(replies: list[TurnAnswered]) -> None:
        published.extend(replies)

    async with TestNatsBroker(rig.broker):
        await save_greeting(rig, project)
        outcomes = [
            outcome.kind
            for n, c in [(1, "tab-a"), (1, "tab-b"), (2, "tab-a"), (2, "tab-b"), (3, "tab-a")]
            for outcome in await rig.app.answer_turns(
                [Arrived(turn(project, "s", channel=c, seq=n))], publish=publish
            )
        ]
    assert outcomes == ["answered"] * 5
    assert len(published) == 5
