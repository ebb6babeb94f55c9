"""OpenTelemetry trace context across NATS: W3C `traceparent` in message headers.

Every process installs the SDK's tracer provider, so a turn gets a real trace id at the gateway
and each hop (gateway publish, dialog handle, reply delivery) has a span id in it, whether or
not spans are exported. Exporting is off unless OTEL_TRACES_EXPORTER says `console` or `otlp`
(the latter needs `opentelemetry-exporter-otlp-proto-http`, the `otlp` extra). Without an
exporter, publishing and delivering make no span object at all (`child_ids`, `continued_ids`):
the same ids reach headers and log lines for a fraction of the CPU.
"""

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

EXPORTERS = ("none", "console", "otlp")
tracer = trace.get_tracer("switchboard")
_ids = RandomIdGenerator()
_recording = False  # set by setup_tracing: spans are recorded only when they are exported


def setup_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """Install the tracer provider of this process (`exporter`: none, console or otlp)."""
    found = _exporter(exporter)
    # Exporting nothing, spans are not recorded at all (ALWAYS_OFF): they still get ids, and
    # the context still propagates, at a fraction of a recorded span's cost.
    sampler = None if found is not None else ALWAYS_OFF  # None: OTEL_TRACES_SAMPLER, else on
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    global _recording
    _recording = found is not None
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


def recording() -> bool:
    """Whether this process records (exports) spans; without, a hop needs only their ids."""
    return _recording


def child_ids(headers: MutableMapping[str, Any]) -> tuple[str, str]:
    """Write into `headers` the `traceparent` (and `tracestate`) a non-recorded child span of
    the current one would write, and return its (trace id, span id) as hex: what a span gives
    a hop when spans are not recorded, without making one (a new trace outside any span)."""
    parent = trace.get_current_span().get_span_context()
    if parent.is_valid:
        trace_id, flags = format(parent.trace_id, "032x"), int(parent.trace_flags)
        if parent.trace_state:
            headers["tracestate"] = parent.trace_state.to_header()
    else:
        trace_id, flags = format(_ids.generate_trace_id(), "032x"), 0
    span_id = format(_ids.generate_span_id(), "016x")
    headers["traceparent"] = f"00-{trace_id}-{span_id}-{flags:02x}"
    return trace_id, span_id


def continued_ids(headers: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(trace id, a new span id) for a hop continuing the trace `headers`' traceparent names;
    None without a valid one."""
    found = headers.get("traceparent") if headers else None
    if not isinstance(found, str):
        return None
    parts = found.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or parts[0] == "ff":
        return None
    try:
        if int(parts[1], 16) == 0 or int(parts[2], 16) == 0:
            return None
    except ValueError:
        return None
    return parts[1].lower(), format(_ids.generate_span_id(), "016x")


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as hex, or None outside a valid span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def operation(subject: str) -> str:
    """A span name's part from a subject without its ids: `chat.turn.<p>` → `chat.turn`."""
    return ".".join(subject.split(".")[:2])
