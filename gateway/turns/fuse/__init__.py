"""Fuse: a judge model writes one answer from a turn's answers, on the turn's own stream.

* ``state``: the fusion's leg (``FuseState``, named ``fuse`` among the turn's legs), its events'
  data and its stored row as a leg again; pure.
* ``sources``: which answers a fusion draws on, and the judge's prompt; pure.
* ``service``: ``FuseService``, which claims the turn as a retry does and runs the fusion.

Import from the modules: this ``__init__`` imports nothing.
"""
