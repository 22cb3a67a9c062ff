"""Share links: read-only views of a conversation, one of its turns, or the leaderboard,
opened with a token in the link and no key (docs/sharing.md)."""

from gateway.sharing.links import (
    Share,
    create_share,
    find_share,
    new_token,
    plausible_token,
    token_hash,
)

__all__ = ["Share", "create_share", "find_share", "new_token", "plausible_token", "token_hash"]
