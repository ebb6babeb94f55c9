"""Wiring: broker, database, application, health routes."""

from faststream.asgi import AsgiFastStream
from faststream.nats import NatsBroker

from shared import subjects
from shared.broker import make_broker, publish_event
from shared.contracts import TurnReceived
from shared.db import Database
from shared.forget import forget_deleted_projects
from shared.identity import ProjectStore
from shared.observability.lag import watch_consumer
from shared.service import make_service_app
from shared.settings import CommonSettings

from .application import DialogApp
from .config import DialogSettings
from .content.store import ContentStore
from .conversations.application import ConversationApp
from .conversations.handlers import register_conversations
from .conversations.store import PgConversations
from .db import dialog_database
from .engines.llm import WRITER, LlmConfig
from .handlers import register
from .sessions.store import PgSessions
from .turns.machine_clock import MachineClock, Publish
from .turns.owners import PartitionedTurns
from .turns.store import PgTurnBatches


def create_app(
    common: CommonSettings | None = None, settings: DialogSettings | None = None
) -> AsgiFastStream:
    """The dialog service as an ASGI app (subscribers start with its lifespan)."""
    common = common or CommonSettings()
    settings = settings or DialogSettings()
    broker = make_broker(common.nats_url, name="dialog")
    # One pool, sized for the turns and the requests; the ProjectStore (a project's fallback
    # text, cached) runs its identity.* statements on it too.
    db = dialog_database(
        common.database_url, max_size=settings.pool_size + settings.requests_pool_size
    )
    app = DialogApp(
        content=ContentStore(db),
        turns=PgTurnBatches(db),
        sessions=PgSessions(db),
        projects=ProjectStore(db),
        reset_repeat_s=settings.reset_repeat_s,
        cache_s=settings.project_cache_s,
    )
    register(broker, app, settings)
    _configure_llm(settings)
    conversations = ConversationApp(conversations=PgConversations(db), sessions=app.sessions)
    register_conversations(broker, conversations)

    turns = _partitioned_turns(broker, app, settings, db, common)
    service = make_service_app(broker, common=common, checks=[db.ready])
    clock = MachineClock(
        app,
        db,
        owned=lambda: turns.owned,
        partitions=common.chat_partitions,
        every_s=settings.machine_tick_s,
        publish=_tick_publisher(broker),
        idle_s=settings.machine_idle_s,
    )
    _run(service, broker, app, db, turns, clock, common=common)
    forget_deleted_projects(
        service, broker, service="dialog", schema="dialog", database_url=common.database_url
    )
    return service


def _configure_llm(settings: DialogSettings) -> None:
    """Point the process's model writer at the endpoint the settings name (unset: off)."""
    if settings.llm_base_url:
        WRITER.config = LlmConfig(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            concurrency=settings.llm_concurrency,
            history_turns=settings.llm_history_turns,
        )


def _partitioned_turns(
    broker: NatsBroker,
    app: DialogApp,
    settings: DialogSettings,
    db: Database,
    common: CommonSettings,
) -> PartitionedTurns:
    """The turn path, each partition's consumer lag watched once this replica owns it."""
    turns = PartitionedTurns(app, settings, db, partitions=common.chat_partitions)
    turns.started = lambda claim: watch_consumer(
        broker,
        subjects.CHAT_STREAM,
        subjects.dialog_partition_durable(claim.partition, claim.consumer),
    )
    return turns


def _tick_publisher(broker: NatsBroker) -> Publish:
    """How the machine clock publishes a tick turn into CHAT (its event id dedupes a repeat)."""

    async def publish_tick(subject: str, turn: TurnReceived) -> None:
        await publish_event(broker, turn, subject, stream=subjects.CHAT_STREAM)

    return publish_tick


def _run(
    service: AsgiFastStream,
    broker: NatsBroker,
    app: DialogApp,
    db: Database,
    turns: PartitionedTurns,
    clock: MachineClock,
    *,
    common: CommonSettings,
) -> None:
    """Start the database, the cache's listener, the turn path and the clock with the service,
    and stop them in the reverse order."""

    @service.on_startup  # after the streams exist
    async def open_database() -> None:
        await db.open()

    @service.after_startup
    async def start_turns() -> None:
        await app.cache.listen(broker.connection)  # before the first turn is pulled
        await turns.start(broker.connection, replicas=common.nats_stream_replicas)
        clock.run()

    service.on_shutdown(clock.close)
    service.on_shutdown(turns.stop)  # the batch being answered is settled first
    service.after_shutdown(db.close)
    service.after_shutdown(WRITER.close)
