"""`python -m fraudkit.emulator serve|env`: run the local AWS emulator, or print the variables that reach it.

`serve --s3-endpoint URL` (else FRAUDKIT_EMULATOR_S3_ENDPOINT; the option wins) makes the emulator
act as SageMaker in an account: model artifacts and the offline store are objects of that S3
endpoint (moto's in the local account) instead of files under the state directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from fraudkit.config import ENDPOINT_ENV_VARS, Settings, SettingsError


def export_lines(url: str, region: str) -> list[str]:
    """Shell lines pointing botocore's per-service endpoint variables at `url`, with dummy credentials."""
    lines = [f"export {var}={url}" for var in ENDPOINT_ENV_VARS]
    lines += [
        "export AWS_ACCESS_KEY_ID=fraudkit-local",
        "export AWS_SECRET_ACCESS_KEY=fraudkit-local",
        f"export AWS_DEFAULT_REGION={region}",
    ]
    return lines


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0..65535")
    return port


S3_ENDPOINT_VAR = "FRAUDKIT_EMULATOR_S3_ENDPOINT"


def _endpoint_url(text: str) -> str:
    """An http(s)://host[:port] URL, checked before the server starts rather than at its first S3 call."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s)://host[:port] URL")
    return text.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.emulator",
        description="Local AWS-compatible SageMaker (Feature Store, models, endpoints) on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator in the foreground (Ctrl-C stops it)")
    serve.add_argument(
        "--port", type=_port, help="port to listen on (default: FRAUDKIT_EMULATOR_PORT or 4580; 0 = any)"
    )
    serve.add_argument(
        "--state-dir", type=Path, help="where state lives (default: FRAUDKIT_STATE_DIR or .fraudkit)"
    )
    serve.add_argument(
        "--s3-endpoint",
        type=_endpoint_url,
        help=f"read ModelDataUrl and write the offline store through this S3 endpoint's API, as SageMaker "
        f"does in an account (default: {S3_ENDPOINT_VAR}; unset = files under the state dir)",
    )
    serve.add_argument("--quiet", action="store_true", help="do not print the export lines")
    env = commands.add_parser("env", help="print `export AWS_ENDPOINT_URL_...` lines for a shell")
    env.add_argument(
        "--port", type=_port, help="the emulator's port (default: the running server's, else 4580)"
    )
    env.add_argument("--state-dir", type=Path, help="state directory of the running server")
    return parser


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def s3_endpoint(option: str | None) -> str | None:
    """The S3 endpoint to serve with: the option, else the environment variable, else None (local files)."""
    if option is not None:
        return option
    value = os.environ.get(S3_ENDPOINT_VAR)
    if not value:
        return None
    try:
        return _endpoint_url(value)
    except argparse.ArgumentTypeError as err:
        fail(f"{S3_ENDPOINT_VAR}: {err}")


def serve(settings: Settings, port: int, quiet: bool, s3: str | None) -> None:
    from fraudkit.emulator import launcher
    from fraudkit.emulator.server import make_server

    try:
        server, state = make_server(settings.state_dir, port, s3)
    except OSError as err:
        fail(f"--port {port}: cannot listen on 127.0.0.1:{port} ({err.strerror}); choose another port or 0")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    record = launcher.write_record(settings.state_dir, server.port, s3)
    if not quiet:
        print("\n".join(export_lines(str(record["url"]), settings.region)), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.close()
        launcher.remove_record(settings.state_dir)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(state_dir=args.state_dir)
    except SettingsError as err:
        fail(str(err))
    if args.command == "serve":
        port = settings.emulator_port if args.port is None else args.port
        serve(settings, port, args.quiet, s3_endpoint(args.s3_endpoint))
        return
    url = f"http://127.0.0.1:{args.port}" if args.port is not None else settings.emulator_url
    print("\n".join(export_lines(url, settings.region)))


if __name__ == "__main__":
    main()
