"""The options the locustfile adds to Locust's command line (and its web UI), and what a turn
sends, built from them once per user.

In a distributed run the master sends its options to every worker with each spawn message:
set them on the master's command line (or ``LOCUST_*`` environment variables there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import orjson

from gateway.tools.arguments import DEFAULT_PROMPT
from gateway.tools.loadtest.config import LoadConfig

KEY_ENV = "MULTICHAT_KEY"


def add_options(parser) -> None:
    """Listener of Locust's ``init_command_line_parser`` (a configargparse parser; its own
    ``add_argument``, which knows Locust's web-UI keywords, not a group's)."""
    group = parser
    group.add_argument(
        "--providers",
        default="claude",
        env_var="LOCUST_PROVIDERS",
        help="comma-separated provider names each turn asks",
    )
    group.add_argument(
        "--model-suffix",
        default="",
        env_var="LOCUST_MODEL_SUFFIX",
        help='simulator knobs on every model name, e.g. "+tokens=200,gap=5"',
    )
    group.add_argument("--prompt", default=DEFAULT_PROMPT, env_var="LOCUST_PROMPT")
    group.add_argument(
        "--resume-after",
        type=int,
        default=3,
        env_var="LOCUST_RESUME_AFTER",
        help="EventSource user: deltas read before it drops the connection and resumes with "
        "Last-Event-ID (0: never)",
    )
    group.add_argument(
        "--turn-timeout",
        type=float,
        default=120.0,
        env_var="LOCUST_TURN_TIMEOUT",
        help="seconds a turn may take, and a read may wait",
    )
    group.add_argument(
        "--multichat-key",
        default="",
        env_var=KEY_ENV,
        is_secret=True,
        help=f"a client key, sent as a bearer token (default: ${KEY_ENV})",
    )


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """What every turn of one user sends and expects."""

    providers: tuple[str, ...]
    body: bytes  # the JSON of POST /chat/stream and POST /turns
    headers: dict[str, str]
    resume_after: int
    turn_timeout: float

    @classmethod
    def from_options(cls, options, model_suffix: str | None = None) -> TurnSettings:
        """``model_suffix``: a user class's own knobs instead of ``--model-suffix``."""
        providers = tuple(p.strip() for p in options.providers.split(",") if p.strip())
        config = LoadConfig(
            providers=providers,
            model_suffix=options.model_suffix if model_suffix is None else model_suffix,
            prompt=options.prompt,
        )
        config.validate()  # an unknown provider stops the run at its first turn, said plainly
        body = orjson.dumps(
            {"prompt": config.prompt, "conversation_id": None, "models": config.gateway_models()}
        )
        headers = {"Content-Type": "application/json"}
        key = options.multichat_key or os.environ.get(KEY_ENV, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return cls(providers, body, headers, max(options.resume_after, 0), options.turn_timeout)
