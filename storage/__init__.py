"""SQL only: PostgreSQL through asyncpg, with every query in a ``.sql`` file.

What this package offers (import from here, not from the modules):

* ``Q``: every named query of ``storage/queries/*.sql``, run as ``await Q.name.fetch(pool, ...)``.
* ``create_pool`` (a ``Pool``: asyncpg's, each operation within a deadline) and what counts as "the database is unavailable" (``is_unavailable``,
  ``UNAVAILABLE_ERRORS``).
* ``migrate``: apply ``migrations/NNNN_*.sql`` in order, once each, under a lock.
* ``Writer``: the group-commit writer of answers (``Answer``), finished turns (``TurnEnd``)
  and running answers' text so far (``Checkpoint``).
* ``EmbeddedPostgres``: a private server for running with no ``DATABASE_URL``.

This package never imports ``gateway``.
"""

from storage.database import UNAVAILABLE_ERRORS, Pool, create_pool, is_unavailable
from storage.embedded import EmbeddedPostgres
from storage.migrate import MigrationError, migrate
from storage.sql import Q
from storage.writer import Answer, Checkpoint, TurnEnd, Writer

__all__ = [
    "UNAVAILABLE_ERRORS",
    "Answer",
    "Checkpoint",
    "EmbeddedPostgres",
    "MigrationError",
    "Pool",
    "Q",
    "TurnEnd",
    "Writer",
    "create_pool",
    "is_unavailable",
    "migrate",
]
