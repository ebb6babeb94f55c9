"""The dialog's request/reply subscribers, each room's attached to one broker: the sessions'
(sessions/handlers.py) and the bot content's (content/handlers.py). Turns have their own pull
loop (turns/loop.py); the operators' conversations are attached by main."""

from faststream.nats import NatsBroker

from .application import DialogApp
from .config import DialogSettings
from .content.handlers import register_content
from .sessions.handlers import PurgeReplies, jetstream_purge, register_sessions


def register(
    broker: NatsBroker,
    app: DialogApp,
    settings: DialogSettings,
    *,
    purge: PurgeReplies | None = None,
) -> None:
    """Attach the dialog's request/reply subscribers to `broker` (`purge` empties a session's
    replies from CHAT; JetStream's own by default)."""
    register_sessions(broker, app, purge or jetstream_purge(broker))
    register_content(broker, app)
