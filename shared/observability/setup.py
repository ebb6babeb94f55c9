"""What every process does first: its log format and its tracer provider."""

from shared.logging import setup_logging
from shared.settings import CommonSettings

from .tracing import setup_tracing


def setup_process(service: str, common: CommonSettings | None = None) -> None:
    """Log as LOG_FORMAT at LOG_LEVEL, and trace (exporting to OTEL_TRACES_EXPORTER)."""
    common = common or CommonSettings()
    setup_logging(service, common.log_level, common.log_format)
    setup_tracing(service, common.otel_traces_exporter)
