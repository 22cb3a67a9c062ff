"""The gateway's measuring tools, run from the ``multichat`` command line.

* ``gateway.tools.loadtest``: ``multichat loadtest``, many streaming clients against a gateway
  (or, as a baseline, straight against the provider simulators), every stream checked.
* ``gateway.tools.bench``: ``multichat bench``, the streaming benchmark: the same load direct
  and through the gateway, in separate pinned processes, with the gateway's CPU and memory.
* ``gateway.tools.streamcheck``: the event protocol's invariants, checked event by event; the
  load generator and the tests share it.
* ``gateway.tools.arguments``: both commands' flags, stdlib only, so that building the
  ``multichat`` parser imports none of the tools.

Nothing is imported here: ``multichat serve`` must not pay for the tools.
"""
