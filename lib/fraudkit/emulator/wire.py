"""The AWS wire protocols, driven by botocore's service models.

Requests are routed (X-Amz-Target for JSON 1.1, the models' requestUri templates for REST-JSON),
parsed and validated against the operation's input shape, and responses are serialised from the
output shape, so the emulator speaks exactly what unmodified boto3, the AWS CLI and the `sagemaker`
SDK send and expect. Validators and serialisers are compiled once per shape: this code runs on
every call of the latency benchmark.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar
from urllib.parse import unquote

import botocore.session
import orjson
import regex
from botocore.model import OperationModel, ServiceModel, Shape

from fraudkit.emulator.core import EmulatorState, RequestContext, handler_for
from fraudkit.emulator.exceptions import (
    JSON_PLANE,
    REST_PLANE,
    AccessForbidden,
    AwsError,
    InternalFailure,
    MethodNotAllowed,
    NoSuchRoute,
    SerializationException,
    UnknownOperationException,
    ValidationException,
)

# Services the emulator answers, in routing order for REST paths (most specific first).
JSON_SERVICES = ("sagemaker",)
REST_SERVICES = ("sagemaker-runtime", "sagemaker-featurestore-runtime")

Parser = Callable[[Any, str, list[str]], Any]
Serializer = Callable[[Any], Any]


@dataclass
class HttpRequest:
    method: str
    path: str  # raw (percent-encoded) path without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


# ---------------------------------------------------------------------------------------------
# Validation of inputs: one compiled parser per shape
# ---------------------------------------------------------------------------------------------


@cache
def _compiled_pattern(pattern: str) -> regex.Pattern[str] | None:
    """Java-flavoured model patterns compiled with `regex` (\\p{L} etc.); None if untranslatable."""
    try:
        return regex.compile(pattern, regex.DOTALL | regex.V1)
    except regex.error:
        return None


def _member_segment(name: str) -> str:
    """A member's name as validation messages spell it in a path (first letter lower case)."""
    return name[:1].lower() + name[1:]


def _join_path(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


def _member_path(path: str, name: str) -> str:
    return _join_path(path, _member_segment(name))


def _fail(errors: list[str], value: Any, path: str, constraint: str) -> None:
    shown = value if isinstance(value, str | int | float) else type(value).__name__
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "..."
    errors.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")


KNOWN_VALID_LENGTH, KNOWN_VALID_COUNT = 256, 4096  # bounds of each string shape's memo of valid values


def _string_parser(shape: Shape) -> Parser:
    meta = shape.metadata
    low, high, enum = meta.get("min"), meta.get("max"), meta.get("enum")
    raw_pattern = meta.get("pattern")
    pattern = None if raw_pattern in (None, ".*", ".+") else _compiled_pattern(raw_pattern)
    # Values that passed every check: the same group and feature names arrive on every call, and the
    # pattern match is the costly part. Only short strings, and only so many, are remembered.
    known_valid: set[str] = set()

    def parse(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, str):
            raise SerializationException(f"Expected a string at '{path}', got {type(value).__name__}")
        if value in known_valid:
            return value
        if low is not None and len(value) < low:
            _fail(errors, value, path, f"Member must have length greater than or equal to {low}")
        elif high is not None and len(value) > high:
            _fail(errors, value, path, f"Member must have length less than or equal to {high}")
        elif enum and value not in enum:
            _fail(errors, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        elif pattern is not None and pattern.fullmatch(value) is None:
            _fail(errors, value, path, f"Member must satisfy regular expression pattern: {raw_pattern}")
        elif (
            pattern is not None and len(value) <= KNOWN_VALID_LENGTH and len(known_valid) < KNOWN_VALID_COUNT
        ):
            known_valid.add(value)
        return value

    return parse


# What a Java int/long of the service holds: a larger number in the JSON cannot be deserialised there.
INTEGRAL_BITS = {"integer": 32, "long": 64}


def _number_parser(shape: Shape) -> Parser:
    bits = INTEGRAL_BITS.get(shape.type_name)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def parse(value: Any, path: str, errors: list[str]) -> Any:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (bits and not isinstance(value, int))
        ):
            raise SerializationException(f"Expected a {shape.type_name} at '{path}', got {value!r:.40}")
        if bits and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise SerializationException(
                f"The number at '{path}' does not fit a {bits}-bit {shape.type_name}"
            )
        if low is not None and value < low:
            _fail(errors, value, path, f"Member must have value greater than or equal to {low}")
        elif high is not None and value > high:
            _fail(errors, value, path, f"Member must have value less than or equal to {high}")
        return value

    return parse


def _boolean_parser(value: Any, path: str, errors: list[str]) -> Any:
    if not isinstance(value, bool):
        raise SerializationException(f"Expected a boolean at '{path}', got {value!r:.40}")
    return value


def _timestamp_parser(value: Any, path: str, errors: list[str]) -> Any:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (
                parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
            )  # AWS reads zoneless times as UTC
    except (ValueError, OverflowError, OSError):
        pass
    raise SerializationException(f"Expected a timestamp at '{path}', got {value!r:.40}")


def _blob_parser(value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise SerializationException(f"Expected base64 data at '{path}'") from None


def _length_check(value: Any, path: str, errors: list[str], shape: Shape) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        _fail(errors, value, path, f"Member must have length greater than or equal to {low}")
    elif high is not None and len(value) > high:
        _fail(errors, value, path, f"Member must have length less than or equal to {high}")


def _list_parser(shape: Shape) -> Parser:
    member = parser_for(shape.member)  # type: ignore[attr-defined]

    def parse(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, list):
            raise SerializationException(f"Expected a list at '{path}'")
        _length_check(value, path, errors, shape)
        return [member(item, f"{path}.{i}", errors) for i, item in enumerate(value, 1)]

    return parse


def _map_parser(shape: Shape) -> Parser:
    key_parser, value_parser = parser_for(shape.key), parser_for(shape.value)  # type: ignore[attr-defined]

    def parse(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            raise SerializationException(f"Expected an object at '{path}'")
        _length_check(value, path, errors, shape)
        return {key_parser(k, path, errors): value_parser(v, f"{path}.{k}", errors) for k, v in value.items()}

    return parse


def _structure_parser(shape: Shape) -> Parser:
    # name -> (parser, the member's path segment), built once: paths are formed on every call
    members = {name: (parser_for(m), _member_segment(name)) for name, m in shape.members.items()}  # type: ignore[attr-defined]
    required = shape.required_members
    is_union = bool(shape.metadata.get("union"))

    def parse(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            raise SerializationException(f"Expected an object at '{path or 'body'}'")
        parsed = {}
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                member_parser, segment = member
                parsed[name] = member_parser(item, _join_path(path, segment), errors)
        for name in required:
            if name not in parsed:
                _fail(errors, "null", _member_path(path, name), "Member must not be null")
        if is_union and len(parsed) != 1:
            errors.append(f"Exactly one member of '{path}' must be set")
        return parsed

    return parse


_PARSERS: dict[int, Parser] = {}
_BUILD_LOCK = threading.RLock()  # re-entrant: building a shape builds its members
_BUILDING: dict[tuple[str, int], Any] = {}  # trampolines of the shapes being built (seen by the builder only)
Compiled = TypeVar("Compiled")


def _compiled(
    kind: str, cache: dict[int, Compiled], key: int, build: Callable[[], Compiled], trampoline: Compiled
) -> Compiled:
    """The cached function of a shape, built once under a lock by the first request that needs it.

    A recursive shape meets itself while it is built and gets `trampoline`, which calls the finished
    function through the cache; other threads wait for the build instead of seeing the trampoline.
    """
    with _BUILD_LOCK:
        found = cache.get(key) or _BUILDING.get((kind, key))
        if found is not None:
            return found
        _BUILDING[(kind, key)] = trampoline
        try:
            built = cache[key] = build()
        finally:
            del _BUILDING[(kind, key)]
        return built


def parser_for(shape: Shape) -> Parser:
    """A function that checks a JSON value against `shape`, appending constraint violations to errors.

    Compiled once per shape (see `_compiled`).
    """
    key = id(shape)
    found = _PARSERS.get(key)
    if found is None:
        found = _compiled(
            "parser",
            _PARSERS,
            key,
            lambda: _build_parser(shape),
            lambda value, path, errors: _PARSERS[key](value, path, errors),
        )
    return found


def _build_parser(shape: Shape) -> Parser:
    kind = shape.type_name
    if kind == "structure":
        return _structure_parser(shape)
    if kind == "list":
        return _list_parser(shape)
    if kind == "map":
        return _map_parser(shape)
    if kind == "string":
        return _string_parser(shape)
    if kind in ("integer", "long", "float", "double"):
        return _number_parser(shape)
    if kind == "boolean":
        return _boolean_parser
    if kind == "timestamp":
        return _timestamp_parser
    if kind == "blob":
        return _blob_parser
    return lambda value, path, errors: value


def _from_text(shape: Shape, text: str, path: str) -> Any:
    """Convert a URI, query-string or header value to the Python type of its shape."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise ValidationException(f"Value '{text:.40}' at '{path}' is not a valid {kind}") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValidationException(f"Value '{text:.40}' at '{path}' is not a valid boolean")
        return text == "true"
    if kind == "timestamp":
        return _timestamp_parser(text, path, [])
    return text


def _parse_text(shape: Shape, text: str, path: str, errors: list[str]) -> Any:
    return parser_for(shape)(_from_text(shape, text, path), path, errors)


def raise_if_invalid(errors: list[str]) -> None:
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(errors))


# ---------------------------------------------------------------------------------------------
# Serialisation of outputs: one compiled serialiser per shape
# ---------------------------------------------------------------------------------------------


def _timestamp_value(value: Any) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _identity(value: Any) -> Any:
    return value


_SERIALIZERS: dict[int, Serializer] = {}


def serializer_for(shape: Shape) -> Serializer:
    """A function that encodes timestamps/blobs for JSON and drops unset (None) or unknown members
    of structures that contain such values; structures of plain values pass through as built."""
    key = id(shape)
    found = _SERIALIZERS.get(key)
    if found is None:
        found = _compiled(
            "serializer",
            _SERIALIZERS,
            key,
            lambda: _build_serializer(shape),
            lambda value: _SERIALIZERS[key](value),
        )
    return found


def _build_serializer(shape: Shape) -> Serializer:
    kind = shape.type_name
    if kind == "structure":
        members = {name: serializer_for(m) for name, m in shape.members.items()}  # type: ignore[attr-defined]
        if all(s is _identity for s in members.values()):
            # Nothing to encode below: handlers build these (e.g. 100 records x features per
            # BatchGetRecord) with exactly the shape's keys, so they pass through untouched.
            return _identity
        return lambda value: {k: members[k](v) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        item = serializer_for(shape.member)  # type: ignore[attr-defined]
        return _identity if item is _identity else (lambda value: [item(v) for v in value])
    if kind == "map":
        map_value = serializer_for(shape.value)  # type: ignore[attr-defined]
        return (
            _identity
            if map_value is _identity
            else (lambda value: {k: map_value(v) for k, v in value.items()})
        )
    if kind == "timestamp":
        return _timestamp_value
    if kind == "blob":
        return lambda value: base64.b64encode(value).decode()
    return _identity


def compile_runtime_shapes() -> int:
    """Build the parser and serializer of every operation of the runtime services now (at server start)
    instead of on each operation's first request; returns how many operations. The control plane
    (hundreds of operations, called a few times each) stays lazy."""
    operations = 0
    for name in REST_SERVICES:
        model = service_model(name)
        for operation in model.operation_names:
            op = model.operation_model(operation)
            if op.input_shape is not None:
                parser_for(op.input_shape)
                _rest_members(op.input_shape)
            if op.output_shape is not None:
                serializer_for(op.output_shape)
            operations += 1
    return operations


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestRoute:
    service: str
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    literal_length: int


def _compile_uri(request_uri: str) -> tuple[re.Pattern[str], int]:
    path = request_uri.split("?", 1)[0]
    out, literal = [], 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            out.append(f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})")
        else:
            out.append(re.escape(piece))
            literal += len(piece)
    return re.compile("^" + "".join(out) + "$"), literal


@cache
def rest_routes() -> list[RestRoute]:
    routes = []
    for service in REST_SERVICES:
        model = service_model(service)
        for name in model.operation_names:
            op = model.operation_model(name)
            pattern, literal = _compile_uri(op.http["requestUri"])
            routes.append(RestRoute(service, op, op.http["method"], pattern, literal))
    return sorted(routes, key=lambda r: -r.literal_length)


@cache
def rest_routes_for(method: str) -> list[RestRoute]:
    """The routes of one HTTP method, in routing order (a request is matched only against these)."""
    return [route for route in rest_routes() if route.method == method]


@cache
def json_targets() -> dict[str, tuple[str, OperationModel]]:
    targets = {}
    for service in JSON_SERVICES:
        model = service_model(service)
        prefix = model.metadata["targetPrefix"]
        for name in model.operation_names:
            targets[f"{prefix}.{name}"] = (service, model.operation_model(name))
    return targets


# ---------------------------------------------------------------------------------------------
# Requests in, responses out
# ---------------------------------------------------------------------------------------------


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SerializationException("The request body is not valid JSON") from None


def parse_json_request(op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    if op.input_shape is None:
        return {}
    errors: list[str] = []
    params = parser_for(op.input_shape)(_json_body(req.body), "", errors)
    raise_if_invalid(errors)
    return dict(params)


@dataclass(frozen=True)
class _RestMember:
    """One input member of a REST operation with what parsing it needs, read from the model once."""

    name: str
    shape: Shape
    location: str | None
    wire_name: str
    path: str


_REST_MEMBERS: dict[int, list[_RestMember]] = {}


def _rest_members(shape: Shape) -> list[_RestMember]:
    found = _REST_MEMBERS.get(id(shape))
    if found is None:
        found = _REST_MEMBERS[id(shape)] = [
            _RestMember(
                name,
                member,
                member.serialization.get("location"),
                member.serialization.get("name", name),
                _member_segment(name),
            )
            for name, member in shape.members.items()  # type: ignore[attr-defined]
        ]
    return found


def parse_rest_request(op: OperationModel, req: HttpRequest, uri_params: dict[str, str]) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    errors: list[str] = []
    payload_name = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for rest_member in _rest_members(shape):
        name, member, location = rest_member.name, rest_member.shape, rest_member.location
        wire_name, path = rest_member.wire_name, rest_member.path
        if location == "uri":
            if wire_name in uri_params:
                params[name] = _parse_text(member, unquote(uri_params[wire_name]), path, errors)
        elif location == "querystring":
            values = req.query.get(wire_name)
            if values is not None and member.type_name == "list":
                items = [_from_text(member.member, v, path) for v in values]  # type: ignore[attr-defined]
                params[name] = parser_for(member)(items, path, errors)
            elif values is not None:
                params[name] = _parse_text(member, values[0], path, errors)
        elif location == "header":
            text = req.headers.get(wire_name.lower())
            if text is not None:
                params[name] = _parse_text(member, text, path, errors)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {k[len(prefix) :]: v for k, v in req.headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif name == payload_name:
            if member.type_name in ("blob", "string"):
                params[name] = req.body if member.type_name == "blob" else req.body.decode("utf-8", "replace")
            elif req.body.strip():
                params[name] = parser_for(member)(_json_body(req.body), path, errors)
        else:
            body_members[name] = member
    if body_members and payload_name is None:
        body = _json_body(req.body)
        if not isinstance(body, dict):
            raise SerializationException("The request body must be a JSON object")
        for name, member in body_members.items():
            if body.get(name) is not None:
                params[name] = parser_for(member)(body[name], _member_path("", name), errors)
    for name in shape.required_members:
        if name not in params:
            _fail(errors, "null", _member_path("", name), "Member must not be null")
    raise_if_invalid(errors)
    return params


def error_response(service: str, err: AwsError, request_id: str) -> HttpResponse:
    """An error answered as AWS does on the plane of `service`: x-amzn-ErrorType header, `__type`,
    `Message` and the error shape's other members in the body (REST-JSON when the service is unknown)."""
    protocol = service_model(service).metadata["protocol"] if service else REST_PLANE
    code = err.code_on(protocol)
    content_type = "application/x-amz-json-1.1" if protocol == JSON_PLANE else "application/json"
    body = orjson.dumps({"__type": code, "Message": err.message, "message": err.message, **err.fields()})
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
    return HttpResponse(err.status_on(protocol), body, headers)


def serialize_json_response(op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
    body = orjson.dumps(serializer_for(op.output_shape)(output)) if op.output_shape is not None else b"{}"
    return HttpResponse(
        200, body, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
    )


def serialize_rest_response(op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
    headers = [("x-amzn-RequestId", request_id)]
    shape = op.output_shape
    if shape is None:
        return HttpResponse(200, b"", [*headers, ("Content-Type", "application/json")])
    status, body, content_type = 200, None, "application/json"
    payload_name = shape.serialization.get("payload")
    body_members = {}
    for name, member in shape.members.items():
        value = output.get(name)
        location = member.serialization.get("location")
        if location == "statusCode" and value is not None:
            status = int(value)
        elif location == "header" and value is not None:
            header = member.serialization.get("name", name)
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            headers.append((header, text))
            if header.lower() == "content-type":
                content_type = text
        elif name == payload_name:
            if member.type_name == "blob":
                body = bytes(value or b"")
            elif member.type_name == "string":
                body = str(value or "").encode()
            elif value is not None:
                body = orjson.dumps(serializer_for(member)(value))
        elif value is not None and location is None:
            body_members[name] = value
    if body is None:
        body = (
            orjson.dumps(serializer_for(shape)(body_members)) if body_members or payload_name is None else b""
        )
    if not any(h.lower() == "content-type" for h, _ in headers):
        headers.append(("Content-Type", content_type))
    return HttpResponse(status, body, headers)


def new_request_id() -> str:
    """A random UUID for x-amzn-RequestId, from the process PRNG: uuid4 reads os.urandom, a system
    call that gives up the GIL on every request, and with the offline flusher busy, getting it back
    can take a whole switch interval. A request id needs to be unique, not unpredictable."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def is_loopback_host(host: str | None) -> bool:
    """Whether a Host header names this machine's loopback: localhost, 127.x.x.x or [::1], any port.

    The server listens on 127.0.0.1 only, but a web page can still reach it by DNS rebinding (a name
    of the attacker's that resolves to 127.0.0.1); its requests carry that name as their Host.
    """
    name, port = (host or "").strip().lower(), ""
    if name.startswith("["):
        name, bracket, port = name[1:].partition("]")
        if not bracket:
            return False
    elif ":" in name:
        name, _, port = name.partition(":")
        port = ":" + port
    if port and not (port.startswith(":") and port[1:].isascii() and port[1:].isdigit()):
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


ExtensionHandler = Callable[[HttpRequest, EmulatorState], HttpResponse]
# (service whose error conventions apply, handler) for a fraudkit-specific (method, path)
Extension = tuple[str, ExtensionHandler]


class WireApp:
    """The emulator as a function from an HTTP request to an HTTP response."""

    def __init__(
        self, state: EmulatorState, extensions: dict[tuple[str, str], Extension] | None = None
    ) -> None:
        self.state = state
        self.extensions = extensions or {}

    def __call__(self, req: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        service = ""
        try:
            if not is_loopback_host(req.headers.get("host")):
                raise AccessForbidden("The local emulator answers requests addressed to a loopback name only")
            extension = self.extensions.get((req.method, req.path))
            if extension is not None:
                service, handle = extension
                return handle(req, self.state)
            target = req.headers.get("x-amz-target")
            if target is not None:
                service = JSON_SERVICES[
                    0
                ]  # the JSON protocol's error conventions, even for an unknown target
                found = json_targets().get(target)
                if found is None:
                    raise UnknownOperationException(f"Unknown operation {target:.100}")
                service, op = found
                params = parse_json_request(op, req)
                output = self._call(service, op, params, request_id)
                return serialize_json_response(op, output, request_id)
            service, op, uri_params = self._route(req)
            params = parse_rest_request(op, req, uri_params)
            output = self._call(service, op, params, request_id)
            return serialize_rest_response(op, output, request_id)
        except AwsError as err:
            return error_response(service, err, request_id)
        except Exception as exc:  # a bug of ours, never bad input: say so without killing the server
            return error_response(service, InternalFailure(f"{type(exc).__name__}: {exc}"), request_id)

    def _route(self, req: HttpRequest) -> tuple[str, OperationModel, dict[str, str]]:
        for route in rest_routes_for(req.method):
            match = route.pattern.match(req.path)
            if match is not None:
                return route.service, route.operation, match.groupdict()
        # no route of this method: 405 when the path is another method's, else 404
        unrouted = (
            MethodNotAllowed if any(route.pattern.match(req.path) for route in rest_routes()) else NoSuchRoute
        )
        raise unrouted(f"No operation for {req.method} {req.path[:100]}")

    def _call(
        self, service: str, op: OperationModel, params: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        handler = handler_for(service, op.name)
        if handler is None:
            raise UnknownOperationException(f"{op.name} is not supported by the local emulator")
        return handler(RequestContext(service, op.name, self.state, request_id), params) or {}
