"""What the tests share, none of it a test: real servers and processes to run the gateway in,
clients that read its event streams, and the checks several test modules make.

- ``paths``: the checkout's root and the test data folder.
- ``databases``: test databases cloned from a migrated template.
- ``gateways``: settings for a test and a gateway on uvicorn in a thread.
- ``servers``: any ASGI app on a real uvicorn, on a free port, in a thread.
- ``gateway_process``: a gateway in its own process (``python -m gateway serve``).
- ``cluster``: Redis, several gateway processes and nginx, for the scale-out tests.
- ``sse_client``: reading event streams as a browser does, and the contract's invariants.
- ``turn_helpers``: creating turns, reading and stitching their streams, polling, rows.
- ``keys``: client keys and bearer headers.
- ``responses``: what every error response must look like.
- ``simulator_calls``: calling the simulators as each vendor's client does, reading their bytes.
- ``browser``: one headless Chromium (or a clear skip) and Playwright's waiting ``expect``.
- ``page_helpers``: driving the comparison page; a paced simulator; a cuttable proxy.
- ``arena_helpers``: what must not leak in a blind turn.
- ``proxies`` and ``connect_proxy``: tinyproxy, our own CONNECT proxy, throwaway certificates.
- ``recorded``: the recorded upstream traffic in tests/data/adapters.
- ``stream_bytes``: a turn's event stream made by hand, for the stream checkers.
- ``processes``: waiting for a process to end, on its pidfd.
- ``leftovers`` and ``no_leftovers``: no process the session started may outlive it.
- ``markers``: which tests are unit, integration, browser or cluster tests.

The fixtures themselves are in ``tests/conftest.py`` (and ``tests/browser/conftest.py``).
"""
