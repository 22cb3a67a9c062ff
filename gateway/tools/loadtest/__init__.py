"""``multichat loadtest``: many streaming clients against a gateway, every stream checked.

N clients each run turns in a loop (``POST /api/v1/chat/stream``, or with ``--eventsource`` the
two-step ``POST /api/v1/turns`` then ``GET events_url``) and the run reports what a streaming
gateway is judged by: turns and tokens per second, time to first token per provider, the gap
between consecutive deltas of one provider, total turn time, and errors by kind. Every event
of every stream goes through ``gateway.tools.streamcheck.StreamChecker`` (the protocol's
invariants); a violation is counted and the first few are printed.

``--direct --simulator-url URL`` runs the same load shape against the provider simulators'
native APIs (per turn, one request per provider, built by the providers' adapters,
concurrently), timed the same way: the benchmark's baseline, so that gateway minus direct is
what the gateway adds.

Cheaper than what it measures, so that it is never the bottleneck: an ``asyncio.Protocol``
HTTP client, the providers' SSE decoder on bytes, one clock read per socket read, one
``orjson.loads`` per gateway event and none per native event, samples in ``array('q')`` with
percentiles computed once at the end, uvloop when it is installed.

The modules, one idea each: ``config`` (what a run is), ``client`` (the HTTP client),
``gateway_stream`` and ``native`` (reading the gateway's and the simulators' streams),
``stats`` (samples and percentiles), ``run`` (clients and turns), ``report``, ``command``.
"""

from gateway.tools.arguments import add_loadtest_arguments as add_arguments
from gateway.tools.loadtest.client import BrokenStream, Connection, Endpoint, Response, Sink
from gateway.tools.loadtest.command import config_from_args, main
from gateway.tools.loadtest.config import LoadConfig
from gateway.tools.loadtest.gateway_stream import GatewayStream
from gateway.tools.loadtest.report import LoadReport, format_table
from gateway.tools.loadtest.run import run_load
from gateway.tools.loadtest.stats import Stats, percentile, summarise
from gateway.tools.streamcheck import StreamChecker, Violation

__all__ = [
    "BrokenStream",
    "Connection",
    "Endpoint",
    "GatewayStream",
    "LoadConfig",
    "LoadReport",
    "Response",
    "Sink",
    "Stats",
    "StreamChecker",
    "Violation",
    "add_arguments",
    "config_from_args",
    "format_table",
    "main",
    "percentile",
    "run_load",
    "summarise",
]
