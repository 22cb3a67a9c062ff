"""Reruns: a turn's providers asked again (retry) or new ones asked (add), on the turn's own
stream. Fuse and edit join here.

* ``choice``: the pure parts: which providers may be asked, a stored turn as a live one,
  ``Rerun`` (what a rerun started) and the replies of a rerun asked of another process.
* ``service``: ``RerunService``, which claims a turn (in memory, or reopened from the record,
  on any process) and launches the new legs.

Import from the modules: this ``__init__`` imports nothing.
"""
