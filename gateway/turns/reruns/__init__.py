"""Reruns: a turn's providers asked again (retry) or new ones asked (add), on the turn's own
stream. Fuse and edit join here.

* ``choice``: the pure parts: which providers may be asked, a stored turn as a live one,
  ``Rerun`` (what a rerun started) and the replies of a rerun asked of another process.
* ``claims``: ``Claims``, how any leg (a retry's, an added provider's, a fusion's) gets its
  turn: claimed while it runs here, asked of the process running it, or a finished one
  reopened in the record (rebuilt if need be), within the limits.
* ``service``: ``RerunService``, which chooses the providers, claims the turn and launches
  the new legs.

Import from the modules: this ``__init__`` imports nothing.
"""
