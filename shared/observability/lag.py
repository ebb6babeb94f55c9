"""JetStream consumer lag of the durable consumers a service's broker subscribes with."""

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from faststream.exceptions import IncorrectState
from faststream.nats import NatsBroker

from .metrics import CONSUMER_ACK_PENDING, CONSUMER_PENDING

_WATCHED: "WeakKeyDictionary[NatsBroker, set[tuple[str, str]]]" = WeakKeyDictionary()


def watch_consumer(broker: NatsBroker, stream: str, durable: str) -> None:
    """Report the lag of a durable consumer that `broker` has no subscriber for (a raw nats-py
    pull loop on the broker's connection)."""
    _WATCHED.setdefault(broker, set()).add((stream, durable))


def durables_of(broker: NatsBroker) -> list[tuple[str, str]]:
    """(stream, durable consumer) of every JetStream subscriber of `broker`, and those watched."""
    found: set[tuple[str, str]] = set(_WATCHED.get(broker, ()))
    for subscriber in broker.subscribers:
        stream: Any = getattr(subscriber, "stream", None)
        durable = getattr(getattr(subscriber, "config", None), "durable_name", None)
        if stream is not None and durable:
            found.add((str(stream.name), str(durable)))
    return sorted(found)


class ConsumerLag:
    """Reads num_pending / num_ack_pending of the broker's durables into gauges (on scrape)."""

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def refresh(self) -> None:
        """Ask JetStream once per durable consumer; skipped while the broker is not connected."""
        try:
            connection = self._broker.connection
        except IncorrectState:  # not connected yet
            return
        if not connection.is_connected:
            return
        js = connection.jetstream()

        async def read(stream: str, durable: str) -> None:
            info = await js.consumer_info(stream, durable, timeout=1.0)
            CONSUMER_PENDING.labels(stream, durable).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(stream, durable).set(info.num_ack_pending or 0)

        # All at once: one slow answer (a loaded JetStream) does not hold back the others.
        found = await asyncio.gather(
            *(read(s, d) for s, d in durables_of(self._broker)), return_exceptions=True
        )
        for failed in (f for f in found if isinstance(f, BaseException)):
            raise failed
