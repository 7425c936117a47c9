"""`make lab`: JupyterLab on the workshop's notebooks with the kit's kernel, as root or not.

JupyterLab refuses to start as root unless told `--allow-root`, and workshops often run in containers
as root: the flag is added only then, and said so. The kernel spec goes into the venv (`sys.prefix`),
not the user's home, so nothing outside the checkout changes. The token is chosen here and port
retries are off, so the URL printed before the server starts is exactly the one to open.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

KERNEL_NAME = "fraudkit"
DISPLAY_NAME = "Python (fraudkit)"
DEFAULT_PORT = 8888


def register_kernel(prefix: str = sys.prefix) -> Path:
    """Install (or refresh) the kit's kernel spec under `prefix`; returns its directory."""
    from ipykernel.kernelspec import install

    return Path(install(kernel_name=KERNEL_NAME, display_name=DISPLAY_NAME, prefix=prefix))


def running_as_root() -> bool:
    return os.geteuid() == 0


def lab_command(notebooks_dir: Path, port: int, token: str, as_root: bool) -> list[str]:
    """The JupyterLab command line: loopback only, opened on `notebooks_dir`, this exact port and token."""
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebooks_dir.resolve()}", f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    return [*command, "--allow-root"] if as_root else command


def lab_url(port: int, token: str) -> str:
    return f"http://127.0.0.1:{port}/lab?token={token}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.lab", description="Register the kit's kernel and open JupyterLab on the notebooks."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT} (make lab LAB_PORT=N)")
    parser.add_argument("--notebooks-dir", type=Path, default=Path("notebooks"), help="default: notebooks")
    parser.add_argument("--no-browser", action="store_true", help="do not try to open a browser")
    args = parser.parse_args(argv)
    if not args.notebooks_dir.is_dir():
        print(f"lab: error: --notebooks-dir {args.notebooks_dir}: not a directory; run from the kit's root", file=sys.stderr)
        return 2
    print(f"lab: kernel {DISPLAY_NAME!r} registered in {register_kernel()}")
    as_root = running_as_root()
    if as_root:
        print("lab: running as root (as in many containers): JupyterLab is started with --allow-root")
    token = secrets.token_hex(24)
    command = lab_command(args.notebooks_dir, args.port, token, as_root)
    if args.no_browser:
        command.append("--no-browser")
    print(f"lab: open {lab_url(args.port, token)}  (Ctrl-C twice to stop)", flush=True)
    os.execv(command[0], command)  # JupyterLab takes over the terminal and its Ctrl-C handling


if __name__ == "__main__":
    sys.exit(main())
