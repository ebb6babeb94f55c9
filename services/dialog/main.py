"""Wiring: broker, database, application, health routes."""

from faststream.asgi import AsgiFastStream

from shared.broker import make_broker
from shared.db import database_ready, make_engine, session_factory
from shared.forget import forget_deleted_projects
from shared.identity import ProjectStore
from shared.service import make_service_app
from shared.settings import CommonSettings

from .application import DialogApp
from .config import DialogSettings
from .conversation_handlers import register_conversations
from .conversation_store import PgConversations
from .conversations import ConversationApp
from .handlers import register
from .store import PgSessions, TurnStore
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
    app = DialogApp(
        content=ContentStore(sessions),
        turns=TurnStore(sessions),
        sessions=PgSessions(sessions),
        projects=ProjectStore(sessions),
        reset_repeat_s=settings.reset_repeat_s,
    )
    register(broker, app, settings)
    conversations = ConversationApp(conversations=PgConversations(sessions), sessions=app.sessions)
    register_conversations(broker, conversations)

    async def db_ready() -> bool:
        return await database_ready(engine)

    service = make_service_app(
        broker, common=common, checks=[db_ready], on_shutdown=[engine.dispose]
    )
    forget_deleted_projects(
        service, broker, service="dialog", schema="dialog", database_url=common.database_url
    )
    return service
