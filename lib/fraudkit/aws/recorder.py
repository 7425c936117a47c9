"""A recording reverse proxy on loopback: which AWS API calls (service, operation) the processes of a
local account make, whichever process makes them (notebook kernels, CLIs, background stages).

Each service gets a port of its own, named by its `AWS_ENDPOINT_URL_<SERVICE>` variable, that forwards
every request unchanged to the server answering that service (moto's, or the kit's emulator). The
operation is read from the request as the service's protocol carries it, per botocore's service model:
the `X-Amz-Target` header (JSON protocol), the `Action` form field (query and EC2 protocols), or for
REST services the method, the URI template and the query keys and headers the operation requires. No
client-side hook is involved, so a process that imports nothing of the kit is recorded too.

Besides the operation, a call keeps its short string parameters (names, ARNs: the top-level strings of a
JSON or form body up to 256 characters, and the URI labels such as an S3 Bucket and Key): enough to
check *which* resource a call touched without storing records or template bodies.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PARAM_LIMIT = 256  # longer strings (template bodies, policies) are not kept
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class Call:
    """One request: its service, operation, HTTP status, short parameters and the phase of the run."""

    service: str
    operation: str
    status: int
    params: dict[str, str] = field(default_factory=dict)
    phase: str = ""


def _short_strings(values: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in values.items() if isinstance(v, str) and len(v) <= PARAM_LIMIT}


@dataclass(frozen=True)
class _RestOperation:
    name: str
    method: str
    path: re.Pattern[str]
    query: dict[str, str | None]  # required query keys, with the value the URI template fixes (or None)
    headers: tuple[str, ...]  # required header members, lower case
    literal_chars: int  # how specific the URI template is, to prefer `/{Bucket}?versions` over `/{Bucket}`


def _compile_rest(operation: Any) -> _RestOperation:
    template = operation.http["requestUri"]
    path, _, fixed_query = template.partition("?")
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            label = piece.strip("{}")
            pattern += f"(?P<{label.rstrip('+')}>.+)" if label.endswith("+") else f"(?P<{label}>[^/]+)"
        else:
            pattern += re.escape(piece)
    query: dict[str, str | None] = {}
    for pair in filter(None, fixed_query.split("&")):
        key, sep, value = pair.partition("=")
        query[key] = value if sep else None
    headers: list[str] = []
    shape = operation.input_shape
    if shape is not None:
        for name in shape.required_members:
            member = shape.members[name]
            location = member.serialization.get("location")
            if location == "querystring":
                query.setdefault(member.serialization["name"], None)
            elif location == "header":
                headers.append(member.serialization["name"].lower())
    literal = len(re.sub(r"\{[^}]+\}", "", template))
    return _RestOperation(
        operation.name, operation.http["method"], re.compile(pattern + "/?"), query, tuple(headers), literal
    )


class OperationReader:
    """Names the operation of a raw request to one service, from botocore's model of that service."""

    def __init__(self, service: str) -> None:
        import botocore.session

        self.service = service
        self.model = botocore.session.get_session().get_service_model(service)

    @cached_property
    def _rest(self) -> list[_RestOperation]:
        return [_compile_rest(self.model.operation_model(name)) for name in self.model.operation_names]

    def read(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """(operation, short parameters) of a request; `headers` with lower-case names."""
        if "x-amz-target" in headers:  # JSON protocol: "<prefix>.<Operation>", the body is the input
            operation = headers["x-amz-target"].rpartition(".")[2]
            return operation, _short_strings(_json_object(body))
        if self.model.protocol in ("query", "ec2"):
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            form.update({k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()})
            params = {k: v for k, v in _short_strings(form).items() if "." not in k and k not in ("Action", "Version")}
            return form.get("Action", UNKNOWN), params
        return self._read_rest(method, target, headers, body)

    def _read_rest(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        url = urlsplit(target)
        query = parse_qs(url.query, keep_blank_values=True)
        best: tuple[tuple[int, int], str, dict[str, str]] | None = None
        for operation in self._rest:
            if operation.method != method:
                continue
            matched = operation.path.fullmatch(url.path)
            if matched is None or any(h not in headers for h in operation.headers):
                continue
            if any(k not in query or (v is not None and v not in query[k]) for k, v in operation.query.items()):
                continue
            score = (len(operation.query) + len(operation.headers), operation.literal_chars)
            if best is None or score > best[0]:
                labels = {k: unquote(v) for k, v in matched.groupdict().items()}
                best = (score, operation.name, labels)
        if best is None:
            return UNKNOWN, {}
        params = _short_strings(_json_object(body)) if headers.get("content-type", "").endswith("json") else {}
        return best[1], {**params, **best[2]}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class CallLog:
    """The calls of a run, in order, from every proxy thread; `phase` labels the calls that follow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.phase = ""

    def add(self, service: str, operation: str, status: int, params: dict[str, str]) -> None:
        with self._lock:
            self.calls.append(Call(service, operation, status, params, self.phase))

    def compacted(self) -> list[dict[str, Any]]:
        """The calls in order, each run of identical consecutive calls as one entry with its `count`
        (a bulk load is tens of thousands of equal PutRecord calls)."""
        with self._lock:
            calls = list(self.calls)
        entries: list[dict[str, Any]] = []
        for call, count in _runs(calls):
            entries.append({**asdict(call), "count": count})
        return entries


def _runs(calls: list[Call]) -> Iterator[tuple[Call, int]]:
    start = 0
    for index in range(1, len(calls) + 1):
        if index == len(calls) or calls[index] != calls[start]:
            yield calls[start], index - start
            start = index


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: str, upstream: str, log: CallLog) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.service = service
        parsed = urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.log = log
        self.reader = OperationReader(service)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards one client connection's requests over one upstream connection, recording each."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        # headers and body go in separate writes: without this, delayed ACKs stall each call ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call log is the record."""

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, body: bytes) -> http.client.HTTPResponse:
        for attempt in (1, 2):  # a kept-alive upstream connection the server closed: reconnect once
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(*self.server.upstream, timeout=600)
            try:
                self._upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self._upstream.putheader(name, value)
                self._upstream.putheader("Content-Length", str(len(body)))
                self._upstream.endheaders(body)
                return self._upstream.getresponse()
            except (ConnectionError, http.client.HTTPException):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handle(self) -> None:
        body = self._body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        operation, params = self.server.reader.read(self.command, self.path, headers, body)
        try:
            response = self._forward(body)
            payload = response.read()
        except OSError as error:
            self.server.log.add(self.server.service, operation, 502, params)
            message = f"local account: {self.server.service} at {self.server.upstream} is unreachable: {error}"
            self.send_error(502, message)
            return
        self.server.log.add(self.server.service, operation, response.status, params)
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and (name.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle


class RecordingProxies:
    """One recording proxy per service, each forwarding to its upstream server; `urls` by service."""

    def __init__(self, upstreams: dict[str, str], log: CallLog) -> None:
        self.log = log
        self.servers = {service: _ProxyServer(service, url, log) for service, url in upstreams.items()}
        self.threads = [
            threading.Thread(target=server.serve_forever, name=f"proxy-{service}", daemon=True)
            for service, server in self.servers.items()
        ]
        for thread in self.threads:
            thread.start()

    @property
    def urls(self) -> dict[str, str]:
        return {service: server.url for service, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
