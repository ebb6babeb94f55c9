"""The books of a chaos run: what the clients saw, against what JetStream and Postgres hold.

A turn counts as *accepted* when it is in the CHAT stream: JetStream acknowledged it to the
gateway, which is the moment each protocol's client is told (or, without an acknowledgement in
the protocol, could be told) that it was taken. An accepted turn is *lost* when its user never
received its answer, and *duplicated* when the user received it more than once, when the bot
answered it more than once (two replies in CHAT), or when the transcript holds it twice.
Telemetry samples are counted the same way: sent by a robot, stored, stored twice.
"""

import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import asyncpg
import nats

from shared import subjects
from shared.replay.streams import StreamRead, stream_messages

from .load import Tally


@dataclass(frozen=True)
class Books:
    """One scenario's line of the table."""

    scenario: str
    sent: int
    accepted: int
    answered: int
    lost: int
    duplicated: int
    stored: int
    samples_sent: int
    samples_accepted: int
    samples_lost: int
    samples_duplicated: int
    reconnects: int
    refused: int
    missing: tuple[str, ...] = ()  # a few lost or duplicated tokens, to look them up in the logs

    def row(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "missing"}


def _token(text: str) -> str | None:
    parts = text.split()
    return parts[1].lower() if len(parts) == 2 and parts[0].lower() == "say" else None


async def _stream(
    nats_url: str, bots: list[UUID]
) -> tuple[dict[UUID, str], Counter[UUID], set[tuple[str, int]]]:
    """Accepted turns (event id → token), replies per turn (CHAT) and accepted samples
    (TELEMETRY)."""
    nc = await nats.connect(nats_url.split(","))
    try:
        js = nc.jetstream()
        turns: dict[UUID, str] = {}
        filters = [subjects.chat_project_turns(b) for b in bots]
        async for msg in stream_messages(js, subjects.CHAT_STREAM, filters, StreamRead("CHAT")):
            body = json.loads(msg.data)
            token = _token(body.get("text", ""))
            if token is not None:
                turns[UUID(body["event_id"])] = token
        replies: Counter[UUID] = Counter()
        filters = [subjects.chat_project_replies(b) for b in bots]
        async for msg in stream_messages(js, subjects.CHAT_STREAM, filters, StreamRead("CHAT")):
            body = json.loads(msg.data)
            if "turn_event_id" in body:
                replies[UUID(body["turn_event_id"])] += 1
        samples: set[tuple[str, int]] = set()
        filters = [f"telemetry.sample.{subjects.token(b)}.*" for b in bots]
        read = StreamRead("TELEMETRY")
        async for msg in stream_messages(js, subjects.TELEMETRY_STREAM, filters, read):
            body = json.loads(msg.data)
            if "load_seq" in body.get("metrics", {}):
                samples.add((body["robot_id"], int(body["metrics"]["load_seq"])))
        return turns, replies, samples
    finally:
        await nc.close()


async def _database(database_url: str, bots: list[UUID]) -> tuple[Counter[str], Counter[Any]]:
    """Transcript rows per token, and stored telemetry samples per (robot, number)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT question FROM dialog.turns WHERE project_key = ANY($1::uuid[]) "
            "AND kind = 'turn'",
            bots,
        )
        stored = Counter(t for r in rows if (t := _token(r["question"])) is not None)
        rows = await conn.fetch(
            "SELECT robot_id, value FROM telemetry.samples WHERE project_key = ANY($1::uuid[]) "
            "AND metric = 'load_seq'",
            bots,
        )
        samples = Counter((r["robot_id"], int(r["value"])) for r in rows)
        return stored, samples
    finally:
        await conn.close()


async def books(
    scenario: str, tally: Tally, *, nats_url: str, database_url: str, bots: list[UUID]
) -> Books:
    """Close the books of one run (after the drain: every answer that will come has come)."""
    turns, replies, accepted_samples = await _stream(nats_url, bots)
    stored, samples = await _database(database_url, bots)
    accepted = Counter(turns.values())
    answered = {t for t in accepted if tally.answers[t] > 0}
    duplicated = {t for t in accepted if accepted[t] > 1 or tally.answers[t] > 1 or stored[t] > 1}
    duplicated |= {turns[e] for e, n in replies.items() if n > 1 and e in turns}
    return Books(
        scenario=scenario,
        sent=len(tally.sent),
        accepted=len(accepted),
        answered=len(answered),
        lost=len(accepted.keys() - answered),
        duplicated=len(duplicated),
        stored=sum(1 for t in accepted if stored[t] > 0),
        samples_sent=sum(tally.samples.values()),
        samples_accepted=len(accepted_samples),
        samples_lost=len(accepted_samples - samples.keys()),
        samples_duplicated=sum(1 for n in samples.values() if n > 1),
        reconnects=sum(tally.reconnects.values()),
        refused=sum(tally.refused.values()),
        missing=tuple(sorted((accepted.keys() - answered) | duplicated)[:10]),
    )
