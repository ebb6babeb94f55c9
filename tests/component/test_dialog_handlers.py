"""Dialog handlers on FastStream's TestNatsBroker, with in-memory stores."""

from typing import Any
from uuid import UUID, uuid4

from faststream.nats import NatsBroker, TestNatsBroker

from services.dialog.application import DialogApp
from services.dialog.config import DialogSettings
from services.dialog.handlers import register
from services.dialog.models import SessionRow, TurnRow
from services.dialog.store import EMPTY
from shared import subjects
from shared.contracts import BotContent, ConfigChanged, SaveBotContent, TurnAnswered, TurnReceived

HI = "<category><pattern>HI</pattern><template>hello</template></category>"


class MemoryContent:
    def __init__(self) -> None:
        self.versions: dict[UUID, list[BotContent]] = {}

    async def current(self, project: UUID) -> BotContent:
        return (self.versions.get(project) or [EMPTY])[-1]

    async def save(self, command: SaveBotContent, categories: int) -> int:
        history = self.versions.setdefault(command.project_key, [])
        history.append(
            BotContent(
                version=len(history) + 1,
                aiml=command.aiml,
                maps="",
                sets="",
                properties=command.properties or "",
            )
        )
        return len(history)


class MemoryTurns:
    """One 'transaction' at a time; enough for handlers called one by one."""

    def __init__(self, content: MemoryContent) -> None:
        self.content = content
        self.sessions: dict[tuple[UUID, str], SessionRow] = {}
        self.rows: dict[UUID, TurnRow] = {}

    def unit(self) -> "MemoryTurns":
        return self

    async def __aenter__(self) -> "MemoryTurns":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def previous_turn(self, turn_event_id: UUID) -> TurnRow | None:
        return self.rows.get(turn_event_id)

    async def lock_session(self, project_key: UUID, session_id: str) -> SessionRow:
        key = (project_key, session_id)
        return self.sessions.setdefault(
            key, SessionRow(project_key=project_key, session_id=session_id)
        )

    async def content_version(self, project_key: UUID) -> int:
        return (await self.content.current(project_key)).version

    def save(self, session: SessionRow, turn: TurnRow) -> None:
        self.rows[turn.turn_event_id] = turn


class NoProjects:
    async def get(self, key: UUID) -> None:
        return None


def make() -> tuple[NatsBroker, DialogApp, MemoryTurns, list[Any]]:
    broker = NatsBroker()
    content = MemoryContent()
    turns = MemoryTurns(content)
    app = DialogApp(content=content, turns=turns, projects=NoProjects())  # type: ignore[arg-type]
    register(broker, app, DialogSettings())
    replies: list[Any] = []

    @broker.subscriber(subjects.CHAT_REPLY_ALL, stream=subjects.CHAT_STREAM)
    async def collect(reply: TurnAnswered) -> None:
        replies.append(reply)

    return broker, app, turns, replies


async def test_a_turn_is_answered_and_a_redelivery_repeats_the_same_reply() -> None:
    """The reply answers the turn (causation = turn id); the same turn again is not recomputed."""
    broker, app, turns, replies = make()
    project = uuid4()
    await app.content.save(SaveBotContent(project_key=project, aiml=HI, correlation_id=uuid4()), 1)
    turn = TurnReceived.first(
        project_key=project, session_id="s", protocol="xparo", text="hi", channel="c", seq=1
    )
    async with TestNatsBroker(broker) as test:
        for _ in range(2):
            await test.publish(turn, subjects.chat_turn(project), stream=subjects.CHAT_STREAM)
    assert [r.text for r in replies] == ["hello", "hello"]
    assert replies[0].event_id == replies[1].event_id
    assert replies[0].causation_id == turn.event_id and len(turns.rows) == 1


async def test_unmatched_turn_gets_the_default_fallback() -> None:
    """No AIML saved: the document's fallback sentence answers, marked as the fallback engine."""
    broker, _app, _turns, replies = make()
    project = uuid4()
    turn = TurnReceived.first(
        project_key=project, session_id="s", protocol="xparo", text="??", channel="c", seq=1
    )
    async with TestNatsBroker(broker) as test:
        await test.publish(turn, subjects.chat_turn(project), stream=subjects.CHAT_STREAM)
    assert (replies[0].text, replies[0].engine) == (
        "let's check this thing on internet",
        "fallback",
    )


async def test_save_request_answers_saved_or_rejected() -> None:
    """Valid AIML is saved as the next version; broken AIML is rejected with its problems."""
    broker, app, _turns, _replies = make()
    project = uuid4()
    async with TestNatsBroker(broker) as test:
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
    assert app.kernels.version(project) == 1


async def test_config_changed_elsewhere_drops_the_cached_kernel() -> None:
    """A newer version announced by another replica evicts this replica's kernel."""
    broker, app, _turns, _replies = make()
    project = uuid4()
    async with TestNatsBroker(broker) as test:
        await test.request(
            SaveBotContent(project_key=project, aiml=HI, correlation_id=uuid4()),
            subjects.dialog_content_save(project),
        )
        await test.publish(
            ConfigChanged.first(project_key=project, version=2), subjects.config_changed(project)
        )
    assert app.kernels.version(project) is None
