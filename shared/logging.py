"""One log format for every process, and no secrets in it.

structlog renders every line, ours and the libraries' (uvicorn, FastStream, nats go through the
standard library and structlog's ProcessorFormatter): human-readable for `make run`
(LOG_FORMAT=console), one JSON object per line in containers (LOG_FORMAT=json). Each line
carries the ids bound while a message is handled (correlation_id, event_id; see
shared.observability.messages) and the current trace and span ids.
"""

import logging
import re
import sys
from collections.abc import Callable
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from .observability.tracing import trace_ids

LogFormat = Literal["console", "json"]

# Paths that carry a secret (XPARO puts it in the URL): uvicorn logs them on every handshake.
_SECRET_IN_PATH = re.compile(r"(/chatbot(?:_api)?/)[^/\s]+(/)")
_SECRET_IN_QUERY = re.compile(r"((?:token|access_token|secret)=)[^&\s\"'\\]+")
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


def redact_values(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """A structlog processor: every text value of the line (the message, a formatted
    exception, bound fields) with its secrets replaced by ***."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def add_trace(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """A structlog processor: the current OpenTelemetry trace and span ids, if any."""
    ids = trace_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def _service(name: str) -> Processor:
    def add(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        event.setdefault("service", name)
        event["level"] = str(event.get("level", "")).upper()  # as the standard library names it
        event.pop("color_message", None)  # uvicorn's copy of the message with ANSI colours
        return event

    return add


def _redacted(render: Callable[..., Any]) -> Processor:
    """`render`, its output searched for secrets once more (a secret split over two values)."""

    def final(logger: WrappedLogger, name: str, event: EventDict) -> str:
        return redact(str(render(logger, name, event)))

    return final


def shared_processors(service: str, fmt: LogFormat) -> list[Processor]:
    """What every line goes through before it is rendered, ours and the libraries'."""
    stamp = structlog.processors.TimeStamper(
        fmt="iso" if fmt == "json" else "%H:%M:%S", utc=fmt == "json"
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        _service(service),
        add_trace,
        stamp,
    ]


def formatter(service: str, fmt: LogFormat = "console") -> logging.Formatter:
    """The formatter of every handler: structlog's, rendering `fmt`, secrets redacted."""
    if fmt == "json":
        render: Processor = structlog.processors.JSONRenderer()
        tail: list[Processor] = [structlog.processors.format_exc_info]
    else:
        render = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        tail = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared_processors(service, fmt)],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            redact_values,
            _redacted(render),
        ],
    )


def setup_logging(service: str, level: str = "INFO", fmt: LogFormat = "console") -> None:
    """Log every line to stderr in `fmt` (console or json); quiet noisy libraries."""
    structlog.configure(
        processors=[
            *shared_processors(service, fmt),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(service, fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers:  # FastStream's own
            logger.handlers.clear()
            logger.propagate = True
    root.setLevel(level.upper())
    for noisy in ("nats.aio.client", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
