"""Signed cookies and turn tokens across hosts whose clocks differ: a value signed a moment
"in the future" (the signing host's clock a little ahead of this one's) is good; one too far
ahead, expired, tampered or for another turn is not. (itsdangerous's own max_age check
refuses any value signed even a second ahead.)
"""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from gateway.auth.signing import MAX_CLOCK_SKEW, Signer

SECRET = b"s" * 32
TURN = "t" * 22


def signer() -> Signer:
    return Signer(SECRET, session_seconds=3600, token_seconds=600)


def token_signed_at(offset: float, turn: str = TURN, key: int = 7) -> str:
    """A turn token as a host whose clock is ``offset`` seconds from ours signs it."""

    class Skewed(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() + offset)

    serializer = URLSafeTimedSerializer(SECRET, salt="multichat.turn-events", signer=Skewed)
    return serializer.dumps({"t": turn, "k": key})


def test_a_value_signed_by_a_clock_a_little_ahead_is_good() -> None:
    assert signer().token_key(token_signed_at(0), TURN) == 7
    assert signer().token_key(token_signed_at(2), TURN) == 7
    assert signer().token_key(token_signed_at(MAX_CLOCK_SKEW - 5), TURN) == 7


def test_too_far_ahead_expired_tampered_or_another_turn_is_not() -> None:
    assert signer().token_key(token_signed_at(MAX_CLOCK_SKEW + 5), TURN) is None
    assert signer().token_key(token_signed_at(-601), TURN) is None
    assert signer().token_key(token_signed_at(0), "u" * 22) is None
    token = token_signed_at(0)
    swapped = "B" if token[-5] == "A" else "A"
    assert signer().token_key(f"{token[:-5]}{swapped}{token[-4:]}", TURN) is None


def test_a_session_cookie_round_trips() -> None:
    made = signer()
    assert made.session_id(made.session(42)) == 42
    assert made.session_id(made.session(42) + "x") is None
