"""Log output: the default text lines, or ``LOG_FORMAT=json``, one JSON object per line.

In json mode every record (the gateway's, uvicorn's, the libraries') is one object with
``ts``, ``level``, ``logger`` and ``message``, plus the fields a record carries in
``extra={"fields": {...}}``: the access line per request (``gateway.api.requests``) and the
line per finished turn (``gateway.observability.turn_log``). uvicorn's own access log is off then, so there
is one access line per request. The same dictionary configures each worker of
``multichat serve --workers N`` (uvicorn applies it in every process).
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
import re
from typing import Any

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The token of a turn's events_url is a credential: no log line or trace carries it.
TOKEN_PARAMETER = re.compile(r"([?&;]token=)[^&#\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"
REDACTED_LOGGERS = ("uvicorn.access", "multichat.access")


# So is a share link's (docs/sharing.md): /s/<token>, in a path or a whole URL.
SHARE_LINK = re.compile(r"(/s/)[^/?#\s\"']+")


def redact(text: str) -> str:
    """``/api/v1/turns/x/events?token=abc&last_event_id=3`` → ``...?token=[redacted]&...``;
    ``/s/abc`` → ``/s/[redacted]``."""
    if "token=" in text.lower():
        text = TOKEN_PARAMETER.sub(rf"\g<1>{REDACTED}", text)
    if "/s/" in text:
        text = SHARE_LINK.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactTokens(logging.Filter):
    """On the access loggers: uvicorn's text line carries the whole path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        return True


def install_token_redaction() -> None:
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def json_log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: every logger through one JSON handler."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "gateway.observability.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["json"], "level": "INFO"},
        "loggers": {
            # uvicorn's loggers reach the root handler; their own handlers are gone.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "httpx": {"level": "WARNING"},
        },
    }


def configure(log_format: str, level: str = "info") -> None:
    """The command line's logging, before anything logs."""
    if log_format == "json":
        logging.config.dictConfig(json_log_config(level))
        logging.captureWarnings(True)  # a warning is a JSON line too
    else:
        logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
        # httpx logs every upstream request at INFO: one line per answer is noise, not news.
        logging.getLogger("httpx").setLevel(logging.WARNING)
