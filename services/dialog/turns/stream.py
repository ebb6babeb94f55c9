"""The turn path's side of the CHAT stream: each partition's durable consumer, and the replies
published with their headers (event id: JetStream's dedupe; correlation id; trace context)."""

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from shared import subjects
from shared.batch_publish import BatchPublish
from shared.contracts import TurnAnswered
from shared.observability.messages import CORRELATION_ID, EVENT_ID

from ..config import DialogSettings

MAX_DELIVER = 100


def reply_headers(reply: TurnAnswered, trace: dict[str, str]) -> dict[str, str]:
    """A reply's headers: its event id (JetStream's dedupe), correlation id, trace context."""
    return {
        "content-type": "application/json",
        EVENT_ID: str(reply.event_id),
        CORRELATION_ID: str(reply.correlation_id),
        **trace,
    }


async def ensure_consumer(
    js: JetStreamContext, durable: str, subject: str, settings: DialogSettings
) -> None:
    """The partition's durable consumer, made unless it exists (its first owner makes it;
    a later owner continues where the last one acked)."""
    try:
        await js.consumer_info(subjects.CHAT_STREAM, durable)
    except NotFoundError:
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            max_deliver=MAX_DELIVER,
            ack_wait=settings.ack_wait_s,
            max_ack_pending=settings.max_ack_pending,
        )
        await js.add_consumer(subjects.CHAT_STREAM, config)


async def publish_replies(
    publisher: BatchPublish,
    replies: list[tuple[TurnAnswered, dict[str, str]]],
    within_s: float,
) -> None:
    """Publish replies in order, the stream's acks awaited together (for `within_s` at most:
    an ack lost to a NATS restart would hold the batch, and its heartbeat, forever)."""
    await publisher.publish(
        [
            (
                subjects.chat_reply(project=reply.project_key, session=reply.session_id),
                reply.model_dump_json().encode(),
                reply_headers(reply, trace),
            )
            for reply, trace in replies
        ],
        within_s=within_s,
    )
