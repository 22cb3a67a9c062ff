"""Observability: metrics, the turn lines, traces, and the log format. Nothing here runs per
token; the turn registry tells the observer once per answer and once per turn.

* ``families``: ``Metrics``, every metric family of one app, and what each records.
* ``collector``: the open figures, read from the turn registry at scrape time.
* ``records``: ``LegRecord``, what an answer looked like when it ended.
* ``observer``: ``Observer`` (fans an answer's and a turn's end out) and ``install``.
* ``turn_log``: the JSON line per finished turn.
* ``tracing``: ``TurnTracer``, a span per turn and per leg over OTLP, only when asked for.
* ``logs``: text or JSON log lines, for the command line and every worker.

Import from the modules; this ``__init__`` imports nothing, so that importing one part (the
log format, in the command line) does not bring in the rest.
"""
