"""Wiring: broker, database, application, health routes."""

from faststream.asgi import AsgiFastStream

from shared import subjects
from shared.broker import make_broker, publish_event
from shared.contracts import TurnReceived
from shared.db import Database, make_engine, session_factory
from shared.forget import forget_deleted_projects
from shared.identity import ProjectStore
from shared.observability.lag import watch_consumer
from shared.service import make_service_app
from shared.settings import CommonSettings

from .application import DialogApp
from .config import DialogSettings
from .conversation_handlers import register_conversations
from .conversation_store import PgConversations
from .conversations import ConversationApp
from .handlers import register
from .llm import WRITER, LlmConfig
from .machine_clock import MachineClock
from .owners import PartitionedTurns
from .store import PgSessions
from .turn_store import PgTurnBatches, keep_connection, prepare_connection
from .versions import ContentStore


def create_app(
    common: CommonSettings | None = None, settings: DialogSettings | None = None
) -> AsgiFastStream:
    """The dialog service as an ASGI app (subscribers start with its lifespan)."""
    common = common or CommonSettings()
    settings = settings or DialogSettings()
    broker = make_broker(common.nats_url, name="dialog")
    engine = make_engine(common.database_url)
    sessions = session_factory(engine)
    db = Database(
        common.database_url,
        max_size=settings.pool_size,
        init=prepare_connection,
        reset=keep_connection,
    )
    app = DialogApp(
        content=ContentStore(sessions),
        turns=PgTurnBatches(db),
        sessions=PgSessions(sessions),
        projects=ProjectStore(sessions),
        reset_repeat_s=settings.reset_repeat_s,
        cache_s=settings.project_cache_s,
    )
    register(broker, app, settings)
    if settings.llm_base_url:
        WRITER.config = LlmConfig(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            concurrency=settings.llm_concurrency,
            history_turns=settings.llm_history_turns,
        )
    conversations = ConversationApp(conversations=PgConversations(sessions), sessions=app.sessions)
    register_conversations(broker, conversations)

    turns = PartitionedTurns(app, settings, db, partitions=common.chat_partitions)
    turns.started = lambda claim: watch_consumer(
        broker,
        subjects.CHAT_STREAM,
        subjects.dialog_partition_durable(claim.partition, claim.consumer),
    )
    service = make_service_app(broker, common=common, checks=[db.ready])

    async def publish_tick(subject: str, turn: TurnReceived) -> None:
        await publish_event(broker, turn, subject, stream=subjects.CHAT_STREAM)

    clock = MachineClock(
        app,
        db,
        owned=lambda: turns.owned,
        partitions=common.chat_partitions,
        every_s=settings.machine_tick_s,
        publish=publish_tick,
        idle_s=settings.machine_idle_s,
    )

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
    service.after_shutdown(engine.dispose)
    forget_deleted_projects(
        service, broker, service="dialog", schema="dialog", database_url=common.database_url
    )
    return service
