"""One log format for every process: time, level, logger, message — and no secrets."""

import logging
import re
import sys

# Paths that carry a secret (XPARO puts it in the URL): uvicorn logs them on every handshake.
_SECRET_IN_PATH = re.compile(r"(/chatbot(?:_api)?/)[^/\s]+(/)")
_SECRET_IN_QUERY = re.compile(r"((?:token|access_token|secret)=)[^&\s\"']+")


def redact(text: str) -> str:
    """`text` with secrets in URL paths and query strings replaced by ***."""
    return _SECRET_IN_QUERY.sub(r"\1***", _SECRET_IN_PATH.sub(r"\1***\2", text))


class RedactSecrets(logging.Filter):
    """Rewrites each record's message so no secret reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    """Log to stderr as `time level service.logger: message`; quiet noisy libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)-5s {service}.%(name)s: %(message)s", "%H:%M:%S"
        )
    )
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats.aio.client", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
