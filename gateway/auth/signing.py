"""Signed, expiring values: the page's session cookie and the EventSource token of a turn.

itsdangerous signs with the secret every gateway of the database shares (made once, kept in
PostgreSQL), so a cookie or token made by one host is good on every other. A signature says
who made the value and when; whether its session or key is still live is asked of the
database (and remembered until a revocation says otherwise).
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

MAX_SIGNED_CHARS = 500
MAX_CLOCK_SKEW = 60.0  # seconds a signing host's clock may be ahead of this one's


class Signer:
    def __init__(self, secret: bytes, *, session_seconds: float, token_seconds: float) -> None:
        self.session_seconds = session_seconds
        self.token_seconds = token_seconds
        self._sessions = URLSafeTimedSerializer(secret, salt="multichat.session.v2")
        self._tokens = URLSafeTimedSerializer(secret, salt="multichat.turn-events")

    def session(self, session_id: int) -> str:
        return self._sessions.dumps({"s": session_id})

    def session_id(self, cookie: str) -> int | None:
        """The session a cookie names, if this gateway signed it and it has not expired."""
        data = self._load(self._sessions, cookie, self.session_seconds)
        value = data.get("s") if isinstance(data, dict) else None
        return value if type(value) is int else None

    def turn_token(self, turn_id: str, key_id: int) -> str:
        return self._tokens.dumps({"t": turn_id, "k": key_id})

    def token_key(self, token: str, turn_id: str) -> int | None:
        """The key a token was made for, if it is good for this turn and not expired."""
        data = self._load(self._tokens, token, self.token_seconds)
        if not isinstance(data, dict) or data.get("t") != turn_id:
            return None
        value = data.get("k")
        return value if type(value) is int else None

    @staticmethod
    def _load(serializer: URLSafeTimedSerializer, value: str, max_age: float) -> object:
        if len(value) > MAX_SIGNED_CHARS:
            return None
        try:
            # The age is checked here, not by itsdangerous (max_age), which refuses any value
            # signed "in the future": a host whose clock is a second behind the signer's would
            # refuse a cookie or token another host made a moment ago.
            data, signed = serializer.loads(value, return_timestamp=True)
        except BadSignature:  # tampered, or not ours
            return None
        age = time.time() - signed.timestamp()
        return data if -MAX_CLOCK_SKEW <= age <= max_age else None
