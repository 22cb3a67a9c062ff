"""Traces, optional: a span per turn with a child span per leg (provider, model, status,
tokens, ttft_ms), sent over OTLP/HTTP.

Only with the ``otel`` extra installed (``pip install 'multichat-gateway[otel]'``) *and*
``OTEL_EXPORTER_OTLP_ENDPOINT`` set; otherwise OpenTelemetry is never imported and nothing
runs. The exporter reads the standard ``OTEL_*`` variables (headers, service name ...).

Spans are made when the turn ends, from what the observer recorded of each leg (its end and
its duration), with their real start and end times: nothing is traced on the per-token path.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from gateway.observability.logs import redact

if TYPE_CHECKING:
    from gateway.observability.records import LegRecord
    from gateway.turns.turn import Turn

log = logging.getLogger("multichat")
SERVICE_NAME = "multichat-gateway"


class TurnTracer:
    def __init__(self, provider: Any) -> None:
        from opentelemetry import trace

        self.provider = provider
        self.trace = trace
        self.tracer = provider.get_tracer("multichat.gateway")

    def turn(self, turn: Turn, legs: list[LegRecord], started_ns: int, ended_ns: int) -> None:
        span = self.tracer.start_span(
            "turn",
            start_time=started_ns,
            attributes=safe(
                {
                    "multichat.turn_id": turn.id,
                    "multichat.conversation_id": turn.conversation_id,
                    "multichat.providers": [leg.provider for leg in legs],
                }
            ),
        )
        context = self.trace.set_span_in_context(span)
        for leg in legs:
            attributes: dict[str, Any] = {
                "multichat.provider": leg.provider,
                "multichat.model": leg.model,
                "multichat.status": leg.status,
                "multichat.tokens": leg.tokens,
            }
            if leg.ttft_ms is not None:
                attributes["multichat.ttft_ms"] = leg.ttft_ms
            if leg.error_type is not None:
                attributes["multichat.error_type"] = leg.error_type
            child = self.tracer.start_span(
                f"leg {leg.provider}",
                context=context,
                start_time=leg.ended_ns - int(leg.latency_ms * 1e6),
                attributes=safe(attributes),
            )
            if leg.status == "failed":
                child.set_status(self.trace.Status(self.trace.StatusCode.ERROR, leg.error_type))
            child.end(end_time=leg.ended_ns)
        span.end(end_time=ended_ns)

    def shutdown(self) -> None:
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()


def safe(attributes: dict[str, Any]) -> dict[str, Any]:
    """Span attributes with any ``token=`` query value redacted (see observability.logs)."""
    return {k: redact(v) if isinstance(v, str) else v for k, v in attributes.items()}


def tracer_from_environment() -> TurnTracer | None:
    """The OTLP tracer when the extra is installed and ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed"
            " (pip install 'multichat-gateway[otel]'): no traces"
        )
        return None
    service = os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info("sending traces to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return TurnTracer(provider)
