"""nbval setup for the committed notebooks (`pytest notebooks --nbval`, part of `make test`).

It lives at the repository root, not in notebooks/, so JupyterLab's file browser shows the lessons
only; as the root conftest it applies to every pytest run from the checkout and acts on nbval's
notebook cells alone.

The stored outputs were produced by `python -m fraudkit.workshop --scale tiny --refresh-committed`
in a fresh state directory at the tiny scale; each nbval kernel gets that same environment
(`committed_output_env`) and the local services are started once for the session, in a temporary
state directory, and stopped at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fraudkit.services import start_detached, stop_local_services
from fraudkit.workshop import committed_output_env, patched_environ
from nbval.plugin import IPyNbCell

_session_state: dict[str, Path] = {}


def _state_dir() -> Path:
    """The session's state directory; its services are started on first use."""
    if "state_dir" not in _session_state:
        # named .fraudkit so the sanitize file's state-dir pattern covers any path a notebook prints
        state_dir = Path(tempfile.mkdtemp(prefix="fraudkit-nbval-")) / ".fraudkit"
        _session_state["state_dir"] = state_dir
        start_detached(state_dir)
    return _session_state["state_dir"]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """nbval starts a notebook's kernel while setting up its first cell: give it the committed environment."""
    if not isinstance(item, IPyNbCell):
        yield
        return
    with patched_environ(committed_output_env(_state_dir())):
        yield


def pytest_sessionfinish(session: pytest.Session) -> None:
    state_dir = _session_state.pop("state_dir", None)
    if state_dir is not None:
        stop_local_services(state_dir)
        shutil.rmtree(state_dir.parent, ignore_errors=True)
