"""The gateway's Locust users: ``locust -f "$(multichat locustfile)" --host URL``.

Without a user class named on the command line, Locust runs both, half each; name one to run
only it (``... ChatStreamUser``). The options this file adds (``--providers``,
``--model-suffix``, ``--prompt``, ``--resume-after``, ``--turn-timeout``, ``--multichat-key``;
see ``gateway.tools.locust.options``) are not in Locust's ``--help``, which is printed before
a locustfile is read; docs/load-testing.md lists them.
"""

from locust import events

from gateway.tools.locust.options import add_options
from gateway.tools.locust.report import TALLY
from gateway.tools.locust.users import ChatStreamUser, EventSourceUser

events.init_command_line_parser.add_listener(add_options)
TALLY.install(events)

__all__ = ["ChatStreamUser", "EventSourceUser"]
