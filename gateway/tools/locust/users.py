"""The Locust users: one turn per task, run as ``multichat loadtest`` runs them.

* ``ChatStreamUser``: ``POST /api/v1/chat/stream``, whose response is the turn's stream.
* ``EventSourceUser``: ``POST /api/v1/turns``, then ``GET events_url`` as a browser's
  EventSource does; after ``--resume-after`` deltas it drops the connection and reconnects
  with ``Last-Event-ID``, and must get exactly the rest of the stream.

A subclass may set ``label`` (its turns' name in the statistics) and ``model_suffix`` (its own
simulator knobs instead of ``--model-suffix``), e.g. a user whose streams are meant to fail.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import requests
from locust import HttpUser, constant, task

from gateway.tools.arguments import DEFAULT_PROMPT
from gateway.tools.locust.options import TurnSettings
from gateway.tools.locust.reader import TurnReader
from gateway.tools.locust.report import record_turn

STREAM_PATH = "/api/v1/chat/stream"
TURNS_PATH = "/api/v1/turns"
EVENTS_NAME = "/api/v1/turns/{turn_id}/events"
CONNECT_TIMEOUT = 10.0
# Without Locust's command line (a user run from a script): the options' defaults.
DEFAULTS = SimpleNamespace(
    providers="claude",
    model_suffix="",
    prompt=DEFAULT_PROMPT,
    resume_after=3,
    turn_timeout=120.0,
    multichat_key="",
)


class TurnTimeout(Exception):
    pass


class Dropped(Exception):
    """The user closed the connection on purpose, to resume."""


class GatewayUser(HttpUser):
    abstract = True
    wait_time = constant(0)  # turns back to back, as the load test runs them
    label: str | None = None  # the name of its turns in the statistics (default: its mode)
    model_suffix: str | None = None  # its own simulator knobs instead of --model-suffix
    mode = ""

    def on_start(self) -> None:
        # On a worker, the options arrive with the master's spawn message: read them now.
        options = self.environment.parsed_options or DEFAULTS
        self.turn_settings = TurnSettings.from_options(options, self.model_suffix)

    @task
    def turn(self) -> None:
        settings = self.turn_settings
        reader = TurnReader(settings.providers, time.perf_counter())
        try:
            problem = self.run_turn(reader)
        except TurnTimeout:
            problem = "timeout"
        except (requests.RequestException, OSError) as error:
            problem = f"broken stream: {type(error).__name__}"
        if problem is None:
            problem = reader.problem()
        record_turn(self.environment, self.label or self.mode, reader, problem, time.perf_counter())
        if problem is not None:
            time.sleep(0.05)  # a refused or broken turn: do not spin (gevent's sleep)

    def run_turn(self, reader: TurnReader) -> str | None:
        """Send the turn and read its stream into ``reader``: None, or what went wrong."""
        raise NotImplementedError

    def read(
        self, response: requests.Response, reader: TurnReader, stop_after: int = 0
    ) -> str | None:
        """Feed the body to ``reader`` as it arrives: None once it was read whole, or what went
        wrong. With ``stop_after``, drop the connection once that many deltas were read (and
        raise ``Dropped``)."""
        try:
            if response.status_code != 200:
                return f"HTTP {response.status_code or 'connection error'}"
            deadline = reader.sent + self.turn_settings.turn_timeout
            for chunk in response.iter_content(chunk_size=None):
                now = time.perf_counter()
                reader.feed(chunk, now)
                if stop_after and reader.total_deltas >= stop_after and not reader.ended:
                    raise Dropped()
                if now > deadline:
                    raise TurnTimeout()
            return None
        finally:
            response.close()  # an early drop closes the connection, as a browser's would

    def timeout(self) -> tuple[float, float]:
        return (CONNECT_TIMEOUT, self.turn_settings.turn_timeout)


class ChatStreamUser(GatewayUser):
    mode = "stream"

    def run_turn(self, reader: TurnReader) -> str | None:
        settings = self.turn_settings
        response = self.client.post(
            STREAM_PATH,
            data=settings.body,
            headers={**settings.headers, "Accept": "text/event-stream"},
            stream=True,
            timeout=self.timeout(),
        )
        return self.read(response, reader)


class EventSourceUser(GatewayUser):
    mode = "eventsource"

    def run_turn(self, reader: TurnReader) -> str | None:
        settings = self.turn_settings
        created = self.client.post(
            TURNS_PATH,
            data=settings.body,
            headers={**settings.headers, "Accept": "application/json"},
            timeout=self.timeout(),
        )
        if created.status_code != 201:
            return f"HTTP {created.status_code or 'connection error'}"
        events_url = created.json()["events_url"]
        headers = {"Accept": "text/event-stream"}
        if "Authorization" in settings.headers:
            headers["Authorization"] = settings.headers["Authorization"]
        try:
            return self.read(self.events(events_url, headers), reader, settings.resume_after)
        except Dropped:
            pass
        # Reconnect as an EventSource does, from the last id it had.
        reader.reconnected()
        resumed = {**headers, "Last-Event-ID": reader.last_id.decode("ascii")}
        return self.read(self.events(events_url, resumed, resume=True), reader)

    def events(self, url: str, headers: dict[str, str], resume: bool = False) -> requests.Response:
        return self.client.get(
            url,
            headers=headers,
            stream=True,
            name=EVENTS_NAME + (" (resumed)" if resume else ""),
            timeout=self.timeout(),
        )
