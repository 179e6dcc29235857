"""The Zoho sandbox: `Sandbox` (state + WSGI app), `SandboxTransport` (in-process), `serve` (HTTP)."""

from __future__ import annotations

import socket
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx

from sandbox.core import FIDELITY, Sandbox
from sandbox.wire import DropConnection, SimulatedTimeout

__all__ = ["FIDELITY", "Sandbox", "SandboxTransport", "serve"]


class SandboxTransport(httpx.WSGITransport):
    """Mount a sandbox in-process. Simulated timeouts and dropped connections surface as the
    httpx exceptions a real network would raise, without waiting."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        super().__init__(app=lambda environ, start: sandbox({**environ, "sandbox.in_process": True}, start))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except SimulatedTimeout:
            raise httpx.ReadTimeout("timed out (sandbox fault)", request=request) from None
        except DropConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


class _Handler(ServerHandler):
    dropped = False

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection | SimulatedTimeout):
            self.dropped = True  # write nothing: the client sees the connection close
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        handler = _Handler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())
        if handler.dropped:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: the sandbox's own call log is at /__sandbox__/calls


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 8001, background: bool = False) -> _Server:
    """Serve the sandbox over HTTP; with `background`, in a daemon thread (returns the server)."""
    server = _Server((host, port), _RequestHandler)
    server.set_app(sandbox)
    if background:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    else:
        server.serve_forever()
    return server
