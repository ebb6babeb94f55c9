"""The NATS side every service shares: the broker, the streams it expects, publishing an event
to a stream (`publish_event`), and the check that a request names its own subject's project."""

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import nats
from faststream import BaseMiddleware, Response
from faststream.exceptions import HandlerException, NackMessage
from faststream.message import StreamMessage
from faststream.nats import NatsBroker, NatsMessage
from nats.errors import NotJSMessageError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BadRequestError
from nats.js.object_store import ObjectStore

from .contracts.base import Event
from .db import unreachable
from .observability.messages import EVENT_ID, Observed
from .retry import Backoff, Dependency, reason, redact
from .settings import CommonSettings
from .streams import stream_configs
from .subjects import MEDIA_BUCKET

log = logging.getLogger(__name__)


def _fetch_times_out_as_nats(fetch: Any) -> Any:
    """nats-py 2.16 raises a bare asyncio.TimeoutError from `fetch` when the deadline is spent
    before its second pull request, where it otherwise raises nats.errors.TimeoutError. FastStream
    0.7.8's pull loops (and ours) catch only the latter, so an idle consumer's task crashed and
    was restarted with a back-off, stalling consumption for seconds. Raise the nats one always
    (it subclasses asyncio.TimeoutError, so nothing that caught the bare one breaks)."""

    @functools.wraps(fetch)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(*args, **kwargs)
        except NatsTimeout:
            raise
        except TimeoutError as err:
            raise NatsTimeout from err

    wrapper.__switchboard_patched__ = True  # type: ignore[attr-defined]
    return wrapper


_PullSubscription = JetStreamContext.PullSubscription
if not getattr(_PullSubscription.fetch, "__switchboard_patched__", False):
    _PullSubscription.fetch = _fetch_times_out_as_nats(_PullSubscription.fetch)  # type: ignore[method-assign]


async def undecoded(msg: StreamMessage[Any]) -> None:
    """A FastStream `decoder` that decodes nothing: the handler reads `msg.body` itself, so a
    malformed message is answered or terminated by the handler, never failing a whole batch
    or dropped without a reply."""


def misaddressed(
    msg: NatsMessage,
    expected: str,
    project: UUID,
    *,
    what: str,
    log: logging.Logger,
    outcome: str = "",
) -> bool:
    """True when a request names another project (`project`, from its body) than the subject it
    came on (`expected` is the subject a request about `project` comes on): it gets nothing of
    that project. Logged on `log` as "<what> on <subject> names project <project><outcome>"."""
    subject = msg.raw_message.subject
    if subject == expected:
        return False
    log.warning("%s on %s names project %s%s", what, subject, project, outcome)
    return True


def servers_of(nats_url: str) -> list[str]:
    """The server URLs of a comma-separated NATS_URL."""
    return [s.strip() for s in nats_url.split(",") if s.strip()]


def stream_replicas() -> int:
    """Replicas of streams and buckets (NATS_STREAM_REPLICAS: 3 on a 3-node cluster)."""
    return CommonSettings().nats_stream_replicas


REDELIVERY = Backoff(first_s=0.5, factor=2.0, max_s=5.0, jitter_s=0.0)


class RedeliverLater(BaseMiddleware):
    """A JetStream message whose handler failed because Postgres (or NATS) was unreachable is
    nacked with a growing delay (REDELIVERY, by delivery count) instead of at once: an immediate
    nack spends the consumer's max_deliver within a second of a database restart, after which
    the message is never delivered again. Other errors, and core NATS requests, pass through."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except Exception as err:
            delivered = _deliveries(msg)
            if delivered is None or not unreachable(err):
                raise
            delay = REDELIVERY.delay(delivered)
            log.warning(
                "%s not handled, a dependency is unreachable (%s); delivery %d, again in %.1f s",
                getattr(msg.raw_message, "subject", "?"),
                reason(err),
                delivered,
                delay,
            )
            raise NackMessage(delay=delay) from err


SERVICE_FAILED = "Switchboard-Failed"
"""Header of the empty answer to a request whose handler failed: the error's class name."""


class AnswerFailures(BaseMiddleware):
    """A core-NATS request whose handler raised is answered at once: an empty body with
    SERVICE_FAILED in its headers, so the requester reports the failure now instead of waiting
    out its timeout (up to 60 s for a content save). The error is logged here. JetStream
    messages pass through: their consumer delivers them again."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except Exception as err:
            if isinstance(err, HandlerException) or _deliveries(msg) is not None:
                raise
            if not getattr(msg.raw_message, "reply", None):
                raise
            subject = getattr(msg.raw_message, "subject", "?")
            log.exception("a request on %s failed; its requester is told", subject)
            return Response(b"", headers={SERVICE_FAILED: type(err).__name__})


def failed(msg: Any) -> bool:
    """True when `msg`, the answer to a request, says its handler failed (AnswerFailures)."""
    return SERVICE_FAILED in (getattr(msg, "headers", None) or {})


def _deliveries(msg: StreamMessage[Any]) -> int | None:
    """How often JetStream delivered `msg`; None for a core NATS message (or a batch)."""
    try:
        return int(msg.raw_message.metadata.num_delivered or 1)
    except (AttributeError, NotJSMessageError):
        return None


def make_broker(
    nats_url: str,
    *,
    name: str,
    disconnected_cb: Callable[[], Awaitable[None]] | None = None,
    reconnected_cb: Callable[[], Awaitable[None]] | None = None,
) -> NatsBroker:
    """A broker that reconnects forever (a restarted NATS must not end the service), telling
    `disconnected_cb` and `reconnected_cb` when its connection goes and comes back.

    Its first connect also waits forever, silently: services wait for `nats_dependency` first.
    """
    return NatsBroker(
        servers_of(nats_url),
        name=name,
        disconnected_cb=disconnected_cb,
        reconnected_cb=reconnected_cb,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        # ids bound before a redelivery or a failed request is logged
        middlewares=[Observed, RedeliverLater, AnswerFailures],
        logger=log,
        log_level=logging.DEBUG,  # one line per message is for debugging, not for INFO logs
    )


# nats-py's connect tries every server 60 times, 2 s apart, before it gives up (0 means forever):
# a probe tries each server twice, 0.1 s apart, and the retry loop does the waiting.
ONE_TRY: dict[str, Any] = {
    "allow_reconnect": False,
    "connect_timeout": 2,
    "max_reconnect_attempts": 1,
    "reconnect_time_wait": 0.1,
}


def nats_dependency(nats_url: str) -> Dependency:
    """NATS as a startup dependency: reachable once a server accepts a connection and JetStream
    answers (on a cluster: once it has a meta leader, so streams can be created)."""

    async def probe() -> None:
        errors: list[Exception] = []

        async def remember(err: Exception) -> None:
            errors.append(err)

        try:
            nc = await nats.connect(servers_of(nats_url), error_cb=remember, **ONE_TRY)
        except Exception as err:
            raise ConnectionError(repr(errors[-1]) if errors else repr(err)) from err
        try:
            await nc.jetstream(timeout=2).account_info()
        finally:
            await nc.close()

    return Dependency(f"NATS ({redact(nats_url)})", probe)


async def publish_event(broker: NatsBroker, event: Event, subject: str, *, stream: str) -> None:
    """Store `event` in `stream` under `subject`, acknowledged by JetStream: its event id is
    the Nats-Msg-Id (a repeated publish of the same event is dropped by the stream) and its
    correlation id travels in FastStream's header, so consumers log the request it belongs to."""
    await broker.publish(
        event,
        subject,
        stream=stream,
        headers={EVENT_ID: str(event.event_id)},
        correlation_id=str(event.correlation_id),
    )


async def ensure_streams(js: JetStreamContext, *, replicas: int | None = None) -> None:
    """Create the streams, or bring their config up to date; safe from any number of starters.

    `replicas` defaults to NATS_STREAM_REPLICAS; every starter must agree, or they would
    update the streams back and forth."""
    for config in stream_configs(replicas or stream_replicas()):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)


async def media_bucket(js: JetStreamContext, *, replicas: int | None = None) -> ObjectStore:
    """The object store holding uploaded media (created on first use; same config every time;
    `replicas` defaults to NATS_STREAM_REPLICAS)."""
    config = ObjectStoreConfig(
        bucket=MEDIA_BUCKET,
        description="Uploaded images; the media service owns the metadata",
        storage=StorageType.FILE,
        replicas=replicas or stream_replicas(),
    )
    return await js.create_object_store(MEDIA_BUCKET, config=config)
