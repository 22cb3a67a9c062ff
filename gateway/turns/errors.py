"""What can go wrong in the turn domain, said in its own words.

The domain knows nothing of HTTP: ``gateway.api`` maps each of these to a status code, in one
table, and nowhere else.
"""

from __future__ import annotations


class TurnError(Exception):
    """Base of the domain's errors; ``message`` is safe to show to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(TurnError):
    """No such conversation or turn (or not one the caller may see)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class PromptTooLong(TurnError):
    pass


class InvalidChoice(TurnError):
    """The providers asked for cannot be used: unknown, listed twice, too many, none."""

    def __init__(self, message: str, *, unknown_provider: bool = False) -> None:
        super().__init__(message)
        self.unknown_provider = unknown_provider


class Conflict(TurnError):
    """The request clashes with what runs now (a retry of a provider whose leg still runs),
    or with what is stored (a second vote); ``kind`` says which, as the error's type."""

    kind = "conflict"


class TooBusy(TurnError):
    """Over a limit on running turns; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShuttingDown(TooBusy):
    """The gateway is stopping and starts no new turn."""
