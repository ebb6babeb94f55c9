"""OpenTelemetry trace context across NATS: W3C `traceparent` in message headers.

Every process installs the SDK's tracer provider, so a turn gets a real trace id at the gateway
and each hop (gateway publish, dialog handle, reply delivery) is a span of it, whether or not
spans are exported. Exporting is off unless OTEL_TRACES_EXPORTER says `console` or `otlp` (the
latter needs `opentelemetry-exporter-otlp-proto-http`, the `otlp` extra).
"""

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

EXPORTERS = ("none", "console", "otlp")
tracer = trace.get_tracer("switchboard")


def setup_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """Install the tracer provider of this process (`exporter`: none, console or otlp)."""
    found = _exporter(exporter)
    # Exporting nothing, spans are not recorded at all (ALWAYS_OFF): they still get ids, and
    # the context still propagates, at a fraction of a recorded span's cost.
    sampler = None if found is not None else ALWAYS_OFF  # None: OTEL_TRACES_SAMPLER, else on
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    if found is not None:
        provider.add_span_processor(BatchSpanProcessor(found))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(name: str) -> SpanExporter | None:
    name = (name or "none").strip().lower()
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter,
            )
        except ImportError as err:
            raise RuntimeError(
                "OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http "
                "(pip install 'switchboard[otlp]')"
            ) from err
        exporter: SpanExporter = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_ENDPOINT etc.
        return exporter
    raise ValueError(f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)}, not {name!r}")


def inject(headers: MutableMapping[str, Any]) -> None:
    """Write the current span's `traceparent` (and `tracestate`) into `headers`."""
    propagate.inject(headers)


def extract(headers: Mapping[str, Any] | None) -> Context:
    """The trace context a message's headers carry (empty without a traceparent)."""
    if not headers:
        return Context()
    return propagate.extract(headers)


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as hex, or None outside a valid span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def operation(subject: str) -> str:
    """A span name's part from a subject without its ids: `chat.turn.<p>` → `chat.turn`."""
    return ".".join(subject.split(".")[:2])
