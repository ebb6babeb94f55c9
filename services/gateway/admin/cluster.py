"""Admin HTTP API for what runs: the gateway replica that answers (its sockets per protocol), the
NATS server it uses, and JetStream's streams and consumers with their lag (messages not yet
delivered, and delivered but not yet acknowledged) - what an operator checks when answers slow
down or a robot's commands do not arrive.

Deployment-wide (consumer names carry project keys and robot ids), so it needs a token for every
project; a scoped token gets 403.
"""

import os
import socket
import time
from typing import Any

from fastapi import APIRouter
from nats.js import JetStreamContext
from pydantic import BaseModel, Field

from shared.observability.metrics import CONNECTIONS

from ..edge.problems import Problem
from .auth import AdminDep
from .deps import BridgeDep

STARTED = time.time()
MAX_CONSUMERS = 50  # per stream, the most behind first (a robot fleet has one per robot)


class Replica(BaseModel):
    """The gateway replica that answered."""

    host: str
    pid: int
    uptime_s: float
    sockets: dict[str, int] = Field(description="WebSocket connections open, by protocol")
    nats: str = Field(description="The NATS server it is connected to")
    nats_version: str


class ConsumerLag(BaseModel):
    """A JetStream consumer and how far behind it is."""

    name: str
    pending: int = Field(description="Messages not delivered yet")
    ack_pending: int = Field(description="Delivered, not acknowledged yet")
    redelivered: int
    waiting: int = Field(description="Pull requests waiting (replicas ready for work)")


class StreamState(BaseModel):
    """A JetStream stream and its consumers, the most behind first."""

    name: str
    messages: int
    bytes: int
    consumers: int
    lagging: list[ConsumerLag] = Field(description=f"At most {MAX_CONSUMERS}, most behind first")


class Cluster(BaseModel):
    """The replica answering, and JetStream's streams."""

    replica: Replica
    streams: list[StreamState]


def open_sockets() -> dict[str, int]:
    """This replica's open WebSocket connections by protocol (its metrics' gauge)."""
    found: dict[str, int] = {}
    for metric in CONNECTIONS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_connections"):
                found[sample.labels["protocol"]] = int(sample.value)
    return found


# Tagged projects too, as when this route was added to the projects' router.
router = APIRouter(tags=["projects", "cluster"])


@router.get("/admin/cluster", response_model=Cluster)
async def cluster(token: AdminDep, bridge: BridgeDep) -> Cluster:
    """This gateway replica (sockets per protocol, NATS server) and JetStream's streams with
    their consumers' lag (a token for every project only)."""
    if token.projects is not None:
        raise Problem(
            403, "replicas and queues are the whole deployment's: use a token for every project"
        )
    nc = bridge.broker.connection
    js = nc.jetstream()
    try:
        streams = await _streams(js)
    except Exception as err:
        raise Problem(503, f"JetStream did not answer: {err}") from err
    url = nc.connected_url
    return Cluster(
        replica=Replica(
            host=socket.gethostname(),
            pid=os.getpid(),
            uptime_s=round(time.time() - STARTED, 1),
            sockets=open_sockets(),
            nats=f"{url.hostname}:{url.port}" if url else "not connected",
            nats_version=_version(nc),
        ),
        streams=streams,
    )


async def _streams(js: JetStreamContext) -> list[StreamState]:
    """Every stream by name, each with its consumers, the most behind first."""
    streams = []
    for info in sorted(await js.streams_info(), key=lambda i: i.config.name or ""):
        name = info.config.name or "?"
        consumers = await js.consumers_info(name)
        lag = [
            ConsumerLag(
                name=c.name,
                pending=c.num_pending or 0,
                ack_pending=c.num_ack_pending or 0,
                redelivered=c.num_redelivered or 0,
                waiting=c.num_waiting or 0,
            )
            for c in consumers
        ]
        lag.sort(key=lambda c: (-(c.pending + c.ack_pending), c.name))
        streams.append(
            StreamState(
                name=name,
                messages=info.state.messages,
                bytes=info.state.bytes,
                consumers=len(consumers),
                lagging=lag[:MAX_CONSUMERS],
            )
        )
    return streams


def _version(nc: Any) -> str:
    """The NATS server's version, "2.10.22" ("" when not connected)."""
    if not nc.is_connected:
        return ""
    v = nc.connected_server_version
    return f"{v.major}.{v.minor}.{v.patch}"
