"""Every service with several replicas: no predicate update lost across 3 dialog replicas,
telemetry stored once by 2 replicas, media kept by one replica and served through another
gateway. (Schedules firing once with 2 replicas: test_schedule_service.py.)"""

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import httpx
import nats
import pytest
from nats.aio.msg import Msg
from PIL import Image

from shared import subjects
from shared.contracts import TurnAnswered, TurnReceived, utcnow
from shared.settings import CommonSettings
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import (
    METRICS,
    consumer_drained,
    publish_samples,
    simulated_samples,
)
from tests.support.waits import wait_until

from .xparo import ask, connect, save

TURNS = 24
KEYS = [f"K{n:02d}" for n in range(TURNS)]
# One predicate per turn: a lost update (a replica writing the session from a stale copy) would
# drop a predicate another replica had set meanwhile.
REMEMBER_AIML = "".join(
    f'<category><pattern>REMEMBER {k} *</pattern><template><think><set name="{k.lower()}">'
    f"<star/></set></think>ok {k}</template></category>"
    for k in KEYS
) + (
    "<category><pattern>RECALL</pattern><template>"
    + " ".join(f'<get name="{k.lower()}"/>' for k in KEYS)
    + "</template></category>"
)


@pytest.fixture(scope="module")
def replicas(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two gateways, three dialog, two telemetry and two media replicas."""
    running = Stack(backends, tmp_path_factory.mktemp("replica-logs"))
    yield running.start(dialogs=3, gateways=2, telemetry=2, media=2)
    running.stop()


async def _converse(nats_url: str, project: UUID, session: str) -> tuple[list[str], str]:
    """TURNS predicate-setting turns of one session, each from its own connection (channel),
    published back to back so the three replicas take them concurrently; then RECALL.
    Returns the replies to the setting turns and the answer to RECALL."""
    nc = await nats.connect(nats_url)
    replies: asyncio.Queue[str] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        await replies.put(TurnAnswered.model_validate_json(msg.data).text)

    async def turn(text: str) -> None:
        event = TurnReceived.first(
            project_key=project,
            session_id=session,
            protocol="xparo",
            text=text,
            channel=uuid4().hex,  # one turn per connection: no turn waits for another
            seq=1,
        )
        await nc.jetstream().publish(
            subjects.chat_turn(
                project, event.session_id, partitions=CommonSettings().chat_partitions
            ),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(event.event_id)},
        )

    try:
        await nc.subscribe(subjects.chat_reply(project=project, session=session), cb=on_reply)
        for key in KEYS:
            await turn(f"remember {key} value{key}")
        said = [await asyncio.wait_for(replies.get(), 60) for _ in KEYS]
        await turn("recall")
        return said, await asyncio.wait_for(replies.get(), 30)
    finally:
        await nc.close()


def test_no_predicate_update_is_lost_across_three_dialog_replicas(
    replicas: Stack, project: TestProject, backends: Backends
) -> None:
    """24 turns of one session, each setting its own predicate, sent back to back to three
    replicas: each is answered once, and RECALL gives every predicate."""
    assert len(replicas.dialogs) == 3
    ws = connect(replicas.ws_url(project))
    assert save(ws, REMEMBER_AIML)
    ws.close()
    said, recalled = asyncio.run(_converse(backends.nats_url, project.key, uuid4().hex))
    assert sorted(said) == sorted(f"ok {k}" for k in KEYS)
    assert recalled.lower().split() == [f"value{k}".lower() for k in KEYS]


async def test_telemetry_is_stored_once_by_two_replicas(
    replicas: Stack, pg: asyncpg.Connection, backends: Backends
) -> None:
    """3,000 samples (some published twice) shared by two telemetry replicas: every metric
    row is stored exactly once."""
    assert len(replicas.telemetry) == 2
    project = uuid4()
    samples = simulated_samples(project, robots=10, per_robot=100, start=utcnow() - timedelta(1))
    nc = await nats.connect(backends.nats_url)
    try:
        js = nc.jetstream()
        await publish_samples(js, samples)
        await publish_samples(js, samples[::10], fresh_msg_ids=True)  # repeats the stream keeps
        expected = len(samples) * len(METRICS)

        async def settled() -> bool:
            drained = await consumer_drained(
                js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE
            )
            count = await pg.fetchval(
                "SELECT count(*) FROM telemetry.samples WHERE project_key = $1", project
            )
            return drained and count >= expected

        await wait_until(settled, within_s=60, what="every sample stored")
    finally:
        await nc.close()
    count = await pg.fetchval(
        "SELECT count(*) FROM telemetry.samples WHERE project_key = $1", project
    )
    assert count == expected


def _png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


def test_media_kept_through_one_gateway_is_served_by_the_other(
    replicas: Stack, project: TestProject
) -> None:
    """Images uploaded through gateway 1 (kept by whichever of two media replicas took each)
    are served byte for byte by gateway 2."""
    assert len(replicas.media) == 2 and len(replicas.gateways) == 2
    session = uuid4().hex
    ws = connect(replicas.ws_url(project, query=f"session_id={session}"))
    ask(ws, "hello")  # the session exists: images are kept for a session
    ws.close()
    colors = ["red", "green", "blue", "white", "black", "yellow"]
    kept: dict[str, bytes] = {}

    def upload(color: str) -> httpx.Response:
        return httpx.post(
            f"{replicas.http_url(0)}/content/image/{project.key}/{session}",
            files={"file": (f"{color}.png", _png(color), "image/png")},
            timeout=20,
        )

    deadline = time.monotonic() + 10
    first = upload(colors[0])  # the answer can arrive before the session's row is committed
    while first.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
        first = upload(colors[0])
    for color in colors:
        sent = first if color == colors[0] else upload(color)
        assert sent.status_code == 200, sent.text
        kept[sent.json()["id"]] = _png(color)
    for image, data in kept.items():
        served = httpx.get(f"{replicas.http_url(1)}/content/image/{image}", timeout=20)
        assert served.status_code == 200 and served.content == data
