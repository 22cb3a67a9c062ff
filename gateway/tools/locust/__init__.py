"""Locust users for the gateway: load from many machines, every stream checked.

``pip install -e '.[load]'`` adds Locust; ``multichat locustfile`` prints the path of the
shipped locustfile, so a run is ``locust -f "$(multichat locustfile)" --host URL`` (one
process), or a ``--master`` and any number of ``--worker`` processes on other hosts.

The users run turns the way ``multichat loadtest`` does: ``POST /api/v1/chat/stream``, or the
EventSource two-step (``POST /api/v1/turns``, then ``GET events_url``), which drops its
connection after a few deltas and resumes with ``Last-Event-ID``. Every event of every stream
goes through ``gateway.tools.streamcheck.StreamChecker``: a protocol violation, like a failed
provider or an HTTP error, fails the turn in Locust's statistics.

The modules, one idea each, all importing Locust (and so gevent) except this one:
``options`` (the command-line options the locustfile adds), ``reader`` (one stream, decoded,
checked and timed), ``report`` (turns, time to first token and tokens/s as Locust entries),
``users`` (the two users), and ``locustfile``. Nothing here is imported to serve.
"""

from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")

__all__ = ["LOCUSTFILE"]
