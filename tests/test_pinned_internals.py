"""The private parts of libraries that we rely on: uvicorn and sse-starlette
(gateway/server.py, gateway/app.py, gateway/api/stream.py). (Our httpx transport uses httpx's
public API only: providers/transport/.)

pyproject.toml pins these libraries below their next minor release. Whoever lifts a pin runs
this file first: each test names the internal it checks, so a change upstream fails here, in
one clear line, instead of somewhere deep in a stream.
"""

from __future__ import annotations

import inspect


def test_uvicorn_protocol_has_the_hooks_our_head_timeout_extends():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for name in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete"):
        assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} is gone"
    source = inspect.getsource(HttpToolsProtocol.__init__)
    assert "self.access_log" in source, "UnloggedProtocol sets HttpToolsProtocol.access_log"


def test_uvicorn_server_has_what_gateway_server_overrides():
    import uvicorn

    for name in ("shutdown", "_log_started_message", "capture_signals"):
        assert callable(getattr(uvicorn.Server, name, None)), f"uvicorn.Server.{name} is gone"
    assert "self.servers" in inspect.getsource(uvicorn.Server.startup), (
        "GatewayServer.shutdown closes the listening servers in uvicorn.Server.servers"
    )
    assert "capture_signals()" in inspect.getsource(uvicorn.Server.serve), (
        "the in-process simulators' server is kept off the process's signals through it"
    )


def test_sse_starlette_can_still_be_told_not_to_cancel_streams_at_shutdown():
    from sse_starlette.sse import AppStatus, SendTimeoutError

    assert callable(AppStatus.disable_automatic_graceful_drain)
    assert issubclass(SendTimeoutError, TimeoutError)


def test_uvicorn_supervisor_makes_its_workers_by_the_name_run_workers_replaces():
    from uvicorn.supervisors import multiprocess

    assert "Process(self.config, self.sockets)" in inspect.getsource(multiprocess.Multiprocess), (
        "gateway.server.run_workers swaps multiprocess.Process for GatewayWorker"
    )
    assert isinstance(inspect.getattr_static(multiprocess.Process, "server"), property)
    assert "_server" in inspect.getsource(multiprocess.Process.__init__)


def test_sse_starlette_still_streams_through_the_method_encoded_event_stream_overrides():
    from sse_starlette import EventSourceResponse

    source = inspect.getsource(EventSourceResponse.__call__)
    assert "self._stream_response(send)" in source, (
        "gateway/api/stream.py replaces EventSourceResponse._stream_response"
    )
    init = inspect.getsource(EventSourceResponse.__init__)
    for attribute in (
        "self._send_lock",
        "self.active",
        "self._cleanup_timeout",
        "self.send_timeout",
    ):
        assert attribute in init, f"EncodedEventStream uses EventSourceResponse's {attribute}"
