"""The emulator's HTTP server: threaded, keep-alive, loopback only, one TCP segment per response.

Why the care: botocore keeps connections alive, and a server that writes headers and body in two
sends without TCP_NODELAY stalls ~40 ms per call on delayed ACKs. Each response here is built as
one byte string and written with one `sendall` on a TCP_NODELAY socket.
"""

from __future__ import annotations

import importlib
import importlib.util
import socket
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import orjson

from fraudkit.emulator.core import EmulatorState
from fraudkit.emulator.wire import (
    HttpRequest,
    HttpResponse,
    WireApp,
    compile_runtime_shapes,
    json_targets,
    rest_routes,
)
from fraudkit.heap import freeze_long_lived_objects

HOST = "127.0.0.1"
App = Callable[[HttpRequest], HttpResponse]
# Service packages that register their handlers on import; `endpoints` may not exist yet.
SERVICE_PACKAGES = ("fraudkit.emulator.featurestore", "fraudkit.emulator.endpoints")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fraudkit-emulator"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def _dispatch(self) -> None:
        raw_path, _, query = self.path.partition("?")
        length_text = self.headers.get("Content-Length") or "0"
        if "Transfer-Encoding" in self.headers:  # botocore always sends Content-Length
            self._refuse(411, "send the body with a Content-Length, not Transfer-Encoding")
            return
        if not (length_text.isascii() and length_text.isdigit()):
            self._refuse(400, "bad Content-Length")
            return
        length = int(length_text)
        body = self.rfile.read(length) if length > 0 else b""
        request = HttpRequest(
            method=self.command,
            path=raw_path,
            query=parse_qs(query, keep_blank_values=True) if query else {},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self._send(self.server.app(request))

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request whose body cannot be delimited; the connection cannot be reused after it."""
        self.close_connection = True
        self._send(
            HttpResponse(
                status,
                orjson.dumps({"__type": "SerializationException", "Message": message}),
                [("Content-Type", "application/json"), ("x-amzn-ErrorType", "SerializationException")],
            )
        )

    def _send(self, response: HttpResponse) -> None:
        reason = (
            HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        )
        head = [f"HTTP/1.1 {response.status} {reason}"]
        head += [f"{name}: {value}" for name, value in response.headers]
        head.append(f"Content-Length: {len(response.body)}")
        body = b"" if self.command == "HEAD" else response.body  # HEAD: the length of the body, not the body
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Silent: a log line per request would cost more than the request."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, app: App) -> None:
        self.app = app
        super().__init__((HOST, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def load_service_packages() -> None:
    """Import every emulated service so its handlers register through `fraudkit.emulator.core`."""
    for name in SERVICE_PACKAGES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def warm_up(state: EmulatorState) -> None:
    """Pay at start what the first requests after a restart would otherwise pay (opening every service's
    state, the runtime operations' parsers and serializers, the in-service endpoints' models), so the
    first stream run after `services up` is as fast as the next; what is built here is frozen with the rest.
    """
    compile_runtime_shapes()
    state.warm()


def make_server(
    state_dir: Path, port: int = 0, s3_endpoint: str | None = None
) -> tuple[EmulatorHTTPServer, EmulatorState]:
    """A server bound to 127.0.0.1:`port` (0 = a free port) serving the emulator over `state_dir`;
    with `s3_endpoint`, model artifacts and the offline store are S3 objects of that endpoint.

    The botocore models are loaded up front and then frozen out of the garbage collector (see
    `freeze_long_lived_objects`).
    """
    load_service_packages()
    from fraudkit.emulator.featurestore.extensions import EXTENSIONS

    rest_routes()
    json_targets()
    state = EmulatorState(state_dir=Path(state_dir), s3_endpoint=s3_endpoint)
    server = EmulatorHTTPServer(port, WireApp(state, EXTENSIONS))
    warm_up(state)
    freeze_long_lived_objects()
    return server, state
