"""The arena: votes on blind turns, and the leaderboard they make. No HTTP here.

What this package offers:

* ``ballot``, ``Ballot``, ``InvalidVote`` (``votes``): a vote checked against a turn's labels
  and resolved to its providers and models; ``pairs``: the pairwise outcomes a vote implies.
* ``leaderboard`` (``leaderboard``): per-model tallies and ratings from stored votes.
* ``fit`` (``bradley_terry``): the Bradley–Terry fit (Hunter's MM) with bootstrap intervals.

Blind turns themselves (labels, what their events withhold) are the turn engine's:
``gateway.turns.blind``.
"""

from gateway.arena.bradley_terry import Fit, fit
from gateway.arena.leaderboard import Leaderboard, Standing, leaderboard
from gateway.arena.votes import Ballot, InvalidVote, ballot, pairs

__all__ = [
    "Ballot",
    "Fit",
    "InvalidVote",
    "Leaderboard",
    "Standing",
    "ballot",
    "fit",
    "leaderboard",
    "pairs",
]
