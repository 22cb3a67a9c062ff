"""The private parts of libraries that we rely on: uvicorn (gateway/adapters/uvicorn.py) and
pgserver (storage/embedded.py). (Our httpx transport, providers/transport/, uses httpx's public
API only; the event-stream response, gateway/api/stream.py, is our own on Starlette's public
Response.)

pyproject.toml pins these libraries below their next minor release. Whoever lifts a pin runs
this file first: each test names the internal it checks, so a change upstream fails here, in
one clear line, instead of somewhere deep in a stream.
"""

from __future__ import annotations

import inspect


def test_uvicorn_still_builds_its_protocols_with_the_arguments_our_wrapper_takes():
    # gateway/adapters/uvicorn.BoundedHttpProtocol is built by uvicorn.Server with these
    # keyword arguments, and builds uvicorn's HttpToolsProtocol with them in turn.
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    source = inspect.getsource(uvicorn.Server.startup)
    for argument in ("config=config", "server_state=self.server_state", "_loop=_loop"):
        assert argument in source, f"uvicorn.Server builds its protocol without {argument}"
    assert "app_state=self.lifespan.state" in source
    parameters = inspect.signature(HttpToolsProtocol.__init__).parameters
    assert list(parameters) == ["self", "config", "server_state", "app_state", "_loop"]


def test_uvicorn_httptools_protocol_is_still_a_plain_protocol_our_wrapper_can_forward_to():
    # The wrapper forwards every asyncio.Protocol callback; the protocol must not need more
    # (say, a buffered protocol's get_buffer) nor swap itself out of the transport for HTTP.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for name in ("connection_made", "data_received", "eof_received", "connection_lost"):
        assert name in vars(HttpToolsProtocol), f"HttpToolsProtocol.{name} is gone"
    for name in ("pause_writing", "resume_writing"):
        assert callable(getattr(HttpToolsProtocol, name, None))
    assert not hasattr(HttpToolsProtocol, "get_buffer")


def test_pgserver_still_keeps_its_postmaster_where_embedded_postgres_re_points_it():
    """storage/embedded.py sets PostgresServer._postmaster_info after a restart (and reads
    it nowhere else); pgserver's public lock path is where its handle-file lock lives."""
    from pgserver.postgres_server import PostgresServer

    source = inspect.getsource(PostgresServer)
    assert "self._postmaster_info" in source
    assert "_postmaster_info.process" in inspect.getsource(PostgresServer._cleanup)
    assert "fasteners.InterProcessLock(lock_path)" in source
    assert PostgresServer.lock_path.name == ".lockfile"
