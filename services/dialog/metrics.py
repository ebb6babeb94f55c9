"""The dialog's metric: how long a turn took to handle, by the engine that answered it."""

import logging
import time
from typing import get_args

from shared.contracts import TurnAnswered
from shared.observability.metrics import DIALOG_TURN_SECONDS

log = logging.getLogger(__name__)
ENGINES: tuple[str, ...] = get_args(TurnAnswered.model_fields["engine"].annotation)
_BY_ENGINE = {engine: DIALOG_TURN_SECONDS.labels(engine) for engine in ENGINES}


def handled(reply: TurnAnswered | None, started: float) -> None:
    """A turn handling that began at `started` (perf_counter) ended with `reply` (None: not
    answered now: a duplicate, early or of a deleted session; not observed)."""
    if reply is None:
        return
    elapsed = time.perf_counter() - started
    _BY_ENGINE[reply.engine].observe(elapsed)
    log.debug("turn %s answered by %s in %.1f ms", reply.turn_event_id, reply.engine, elapsed * 1e3)
