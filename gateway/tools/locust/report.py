"""What a turn adds to Locust's statistics, and the run's token count across workers.

Locust keeps statistics per (type, name) entry and ships them from workers to the master, so
the gateway's own measures are entries too:

* ``turn`` / the user's label: the whole turn, from its request to its ``end`` event; its
  failures say why (a protocol violation, a failed provider, an HTTP error, a timeout), and
  its content size is the number of deltas;
* ``TTFT`` / each provider: the time to that provider's first delta, in ms;
* ``tokens/s`` / each provider: that answer's streaming rate (deltas per second after its
  first), in the column Locust calls the response time.

The HTTP requests themselves are Locust's own entries (time to the response's headers).
"""

from __future__ import annotations

import logging
import time

from gateway.tools.locust.reader import TurnReader

log = logging.getLogger("multichat.locust")


class TurnFailed(Exception):
    """A turn that did not end cleanly; its message is what Locust's failure table groups."""


def record_turn(
    environment, label: str, reader: TurnReader, problem: str | None, ended: float
) -> None:
    fire = environment.events.request.fire
    fire(
        request_type="turn",
        name=label,
        response_time=(ended - reader.sent) * 1000.0,
        response_length=reader.total_deltas,
        exception=TurnFailed(problem) if problem else None,
        context={},
    )
    for provider, ttft in reader.ttft_ms().items():
        fire(
            request_type="TTFT",
            name=provider,
            response_time=ttft,
            response_length=0,
            exception=None,
            context={},
        )
    for provider, rate in reader.tokens_per_second().items():
        fire(
            request_type="tokens/s",
            name=provider,
            response_time=rate,
            response_length=0,
            exception=None,
            context={},
        )
    TALLY.deltas += reader.total_deltas


class TokenTally:
    """Deltas relayed in the whole run, summed over the workers, said once at the end: the
    run's tokens per second, which no per-entry figure gives."""

    def __init__(self) -> None:
        self.deltas = 0  # this process's, since its last report to the master
        self.total = 0
        self.started: float | None = None

    def install(self, events) -> None:
        events.test_start.add_listener(self.on_test_start)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)
        events.quitting.add_listener(self.on_quitting)

    def on_test_start(self, environment, **_) -> None:
        self.deltas = self.total = 0
        self.started = time.monotonic()

    def on_report_to_master(self, client_id, data, **_) -> None:
        data["multichat_deltas"] = self.deltas
        self.deltas = 0

    def on_worker_report(self, client_id, data, **_) -> None:
        self.total += data.get("multichat_deltas", 0)

    def on_quitting(self, environment, **_) -> None:
        runner = type(environment.runner).__name__ if environment.runner else ""
        if runner == "WorkerRunner" or self.started is None:
            return  # the master (or a local run) speaks for the whole run
        total = self.total + self.deltas
        seconds = max(time.monotonic() - self.started, 1e-9)
        log.info(
            "multichat: %d tokens (deltas) relayed in %.1f s, %.0f tokens/s",
            total,
            seconds,
            total / seconds,
        )


TALLY = TokenTally()
