"""Dialog sessions over real NATS and Postgres, two dialog replicas: open, put data, delete, say."""

import asyncio
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from pydantic import BaseModel, TypeAdapter

from shared import subjects
from shared.contracts import (
    BotContentSaved,
    BotSpoke,
    DeleteSession,
    GetSession,
    OpenSession,
    SaveBotContent,
    SayToSession,
    SessionDeleted,
    SessionInfo,
    SessionReply,
    SessionUnknown,
    TurnAnswered,
    TurnReceived,
    UpdateSession,
)
from shared.settings import CommonSettings
from tests.support.plugin import Stack, TestProject
from tests.support.waits import wait_until

REPLY: TypeAdapter[SessionInfo | SessionUnknown] = TypeAdapter(SessionReply)
SAID: TypeAdapter[BotSpoke | SessionUnknown] = TypeAdapter(BotSpoke | SessionUnknown)
GREET = (
    '<category><pattern>HI</pattern><template>Hi <get name="first_name"/></template></category>'
    '<category><pattern>XIMAGE</pattern><template>got <get name="image"/></template></category>'
)
TIMEOUT_S = 20.0
ROWS = {
    table: f"SELECT count(*) FROM dialog.{table} WHERE project_key = $1 AND session_id = $2"  # noqa: S608
    for table in ("sessions", "turns", "deleted_sessions")
}


async def ask(nc: NatsClient, kind: str, request: BaseModel, project: UUID) -> Any:
    """A session request to whichever dialog replica takes it, decoded."""
    msg = await nc.request(
        subjects.dialog_session(kind, project), request.model_dump_json().encode(), TIMEOUT_S
    )
    return (SAID if kind == "say" else REPLY).validate_json(msg.data)


async def open_session(nc: NatsClient, project: UUID, **data: Any) -> SessionInfo:
    command = OpenSession(project_key=project, protocol="aida", data=data, correlation_id=uuid4())
    opened = await ask(nc, "open", command, project)
    assert isinstance(opened, SessionInfo), opened
    return opened


async def put_data(nc: NatsClient, project: UUID, session: str, **data: Any) -> Any:
    command = UpdateSession(
        project_key=project, session_id=session, data=data, correlation_id=uuid4()
    )
    return await ask(nc, "update", command, project)


async def save_greeting(nc: NatsClient, project: UUID) -> None:
    command = SaveBotContent(project_key=project, aiml=GREET, correlation_id=uuid4())
    msg = await nc.request(
        subjects.dialog_content_save(project), command.model_dump_json().encode(), TIMEOUT_S
    )
    BotContentSaved.model_validate_json(msg.data)


def new_turn(project: UUID, session: str, text: str, image: UUID | None = None) -> TurnReceived:
    return TurnReceived.first(
        project_key=project,
        session_id=session,
        protocol="aida",
        text=text,
        image=image,
        channel=uuid4().hex,
        seq=1,
    )


async def publish_turn(nc: NatsClient, turn: TurnReceived) -> int:
    """Put a turn into CHAT as a gateway does; its stream sequence."""
    ack = await nc.jetstream().publish(
        subjects.chat_turn(
            turn.project_key, turn.session_id, partitions=CommonSettings().chat_partitions
        ),
        turn.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(turn.event_id)},
    )
    return ack.seq


async def answered(nc: NatsClient, turn: TurnReceived) -> TurnAnswered:
    """Publish `turn`, wait for its answer on the session's reply subject, then until the dialog
    acked it (the answer is published before its transaction commits: the ack comes after)."""
    got: asyncio.Future[TurnAnswered] = asyncio.get_running_loop().create_future()

    async def on_reply(msg: Msg) -> None:
        if not got.done():
            got.set_result(TurnAnswered.model_validate_json(msg.data))

    subject = subjects.chat_reply(project=turn.project_key, session=turn.session_id)
    sub = await nc.subscribe(subject, cb=on_reply)
    try:
        seq = await publish_turn(nc, turn)
        reply = await asyncio.wait_for(got, TIMEOUT_S)
    finally:
        await sub.unsubscribe()
    await handled(nc, seq, turn.session_id)
    return reply


async def handled(nc: NatsClient, seq: int, session: str) -> None:
    """Wait until the owner of `session`'s partition has acked every turn of it up to stream
    sequence `seq`."""
    js = nc.jetstream()
    partition = subjects.partition_of(session, CommonSettings().chat_partitions)

    async def acked() -> bool:
        durable = subjects.dialog_partition_durable(partition)
        info = await js.consumer_info(subjects.CHAT_STREAM, durable)
        return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= seq

    await wait_until(acked, within_s=TIMEOUT_S, what=f"the dialog to ack turn {seq}")


async def rows(pg: asyncpg.Connection, table: str, project: UUID, session: str) -> int:
    """How many rows of `table` belong to the session."""
    return int(await pg.fetchval(ROWS[table], project, session))


async def last_in_chat(nc: NatsClient, subject: str) -> bytes | None:
    """The newest message on `subject` still in the CHAT stream, if any."""
    try:
        found = await nc.jetstream().get_last_msg(subjects.CHAT_STREAM, subject)
    except NotFoundError:
        return None
    return found.data


async def test_sessions_are_opened_merged_and_known_only_in_their_project(
    stack: Stack,
    nc: NatsClient,
    pg: asyncpg.Connection,
    project: TestProject,
    other_project: TestProject,
) -> None:
    """open with data, put_data, get: the merged data comes back from any replica and is
    stored with the protocol; the same id asked in another project is unknown."""
    opened = await open_session(nc, project.key, first_name="Ada")
    merged = await put_data(nc, project.key, opened.session_id, city="Paris")
    get = GetSession(project_key=project.key, session_id=opened.session_id)
    found = await ask(nc, "get", get, project.key)
    elsewhere = GetSession(project_key=other_project.key, session_id=opened.session_id)
    assert (
        merged
        == found
        == SessionInfo(
            session_id=opened.session_id,
            protocol="aida",
            data={"first_name": "Ada", "city": "Paris"},
        )
    )
    assert await ask(nc, "get", elsewhere, other_project.key) == SessionUnknown(
        session_id=opened.session_id, deleted=False
    )
    row = await pg.fetchrow(
        "SELECT protocol, state->>'first_name' AS name FROM dialog.sessions"
        " WHERE project_key = $1 AND session_id = $2",
        project.key,
        opened.session_id,
    )
    assert (row["protocol"], row["name"]) == ("aida", "Ada")


async def test_concurrent_put_data_all_merge(
    stack: Stack, nc: NatsClient, project: TestProject
) -> None:
    """Forty put_data at once, spread over both replicas, each with its own key: none is lost."""
    opened = await open_session(nc, project.key)
    await asyncio.gather(
        *(put_data(nc, project.key, opened.session_id, **{f"k{n}": n}) for n in range(40))
    )
    found = await ask(
        nc, "get", GetSession(project_key=project.key, session_id=opened.session_id), project.key
    )
    assert found.data == {f"k{n}": n for n in range(40)}


async def test_put_data_is_what_the_aiml_says(
    stack: Stack, nc: NatsClient, project: TestProject
) -> None:
    """put_data first_name, then "hi" is answered from <get name="first_name"/>; an image turn
    is answered by the XIMAGE category naming the image."""
    await save_greeting(nc, project.key)
    opened = await open_session(nc, project.key)
    await put_data(nc, project.key, opened.session_id, first_name="Ada")
    reply = await answered(nc, new_turn(project.key, opened.session_id, "hi"))
    assert (reply.text, reply.protocol) == ("Hi Ada", "aida")
    image = uuid4()
    seen = await answered(nc, new_turn(project.key, opened.session_id, "", image=image))
    assert seen.text == f"got {image}"


async def test_delete_forgets_the_session_and_its_transcript_for_good(
    stack: Stack, nc: NatsClient, pg: asyncpg.Connection, project: TestProject
) -> None:
    """delete removes the session and its transcript, keeps a tombstone, announces
    SessionDeleted in CHAT and purges the session's replies; afterwards update, get and say
    answer deleted, and a turn for it is dropped unanswered without recreating it."""
    key = project.key
    await save_greeting(nc, key)
    session = (await open_session(nc, key, first_name="Ada")).session_id
    await answered(nc, new_turn(key, session, "hi"))
    assert await rows(pg, "turns", key, session) == 1
    delete = DeleteSession(project_key=key, session_id=session, correlation_id=uuid4())
    deleted = await ask(nc, "delete", delete, key)
    assert isinstance(deleted, SessionInfo) and deleted.data == {"first_name": "Ada"}
    assert await rows(pg, "turns", key, session) == 0
    assert await rows(pg, "sessions", key, session) == 0
    assert await rows(pg, "deleted_sessions", key, session)
    announced = await last_in_chat(nc, subjects.chat_deleted(key))
    assert announced is not None
    event = SessionDeleted.model_validate_json(announced)
    assert (event.session_id, event.correlation_id) == (session, delete.correlation_id)
    replies = subjects.chat_reply(project=key, session=session)
    assert await last_in_chat(nc, replies) is None
    gone = SessionUnknown(session_id=session, deleted=True)
    say = SayToSession(
        project_key=key,
        session_id=session,
        text="hello?",
        source="operator",
        correlation_id=uuid4(),
    )
    assert await put_data(nc, key, session, first_name="Bob") == gone
    assert await ask(nc, "get", GetSession(project_key=key, session_id=session), key) == gone
    assert await ask(nc, "say", say, key) == gone
    await handled(nc, await publish_turn(nc, new_turn(key, session, "hi")), session)
    assert await last_in_chat(nc, replies) is None
    assert await rows(pg, "sessions", key, session) == 0
    assert await rows(pg, "turns", key, session) == 0


async def test_say_speaks_first_on_the_sessions_reply_subject(
    stack: Stack, nc: NatsClient, project: TestProject
) -> None:
    """say publishes BotSpoke (the session's protocol) where the session's replies go, and
    keeps it in CHAT for a client that is not connected; an unknown session hears nothing."""
    session = (await open_session(nc, project.key)).session_id
    heard: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def on_reply(msg: Msg) -> None:
        if not heard.done():
            heard.set_result(msg.data)

    replies = subjects.chat_reply(project=project.key, session=session)
    await nc.subscribe(replies, cb=on_reply)
    say = SayToSession(
        project_key=project.key,
        session_id=session,
        text="Your order is ready",
        source="operator",
        correlation_id=uuid4(),
    )
    said = await ask(nc, "say", say, project.key)
    assert isinstance(said, BotSpoke) and (said.protocol, said.text) == ("aida", say.text)
    assert BotSpoke.model_validate_json(await asyncio.wait_for(heard, TIMEOUT_S)) == said
    kept = await last_in_chat(nc, replies)
    assert kept is not None and BotSpoke.model_validate_json(kept) == said
    nobody = say.model_copy(update={"session_id": uuid4().hex})
    assert await ask(nc, "say", nobody, project.key) == SessionUnknown(session_id=nobody.session_id)
