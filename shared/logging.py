"""One log format for every process: time, level, logger, message."""

import logging
import sys


def setup_logging(service: str, level: str = "INFO") -> None:
    """Log to stderr as `time level service.logger: message`; quiet noisy libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)-5s {service}.%(name)s: %(message)s", "%H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "nats.aio.client", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
