"""One log format for every process: time, level, logger, message — and no secrets."""

import logging
import re
import sys

# Paths that carry a secret (XPARO puts it in the URL): uvicorn logs them on every handshake.
_SECRET_IN_PATH = re.compile(r"(/chatbot(?:_api)?/)[^/\s]+(/)")
_SECRET_IN_QUERY = re.compile(r"((?:token|access_token|secret)=)[^&\s\"']+")
# Headers that carry one (BESSER's X-Project-Token, bearer tokens): the WebSocket library prints
# every handshake header at DEBUG, one per line.
_SECRET_IN_HEADER = re.compile(
    r"^([<>]?\s*(?:authorization|proxy-authorization|x-project-token|cookie|set-cookie)\s*:\s*)"
    r"\S.*$",
    re.IGNORECASE | re.MULTILINE,
)


def redact(text: str) -> str:
    """`text` with secrets in URL paths, query strings and headers replaced by ***."""
    text = _SECRET_IN_HEADER.sub(r"\1***", text)
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
