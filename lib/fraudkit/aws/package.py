"""Build the Lambda deployment package of the streaming handlers (`make package`).

The zip holds the kit's modules that the handlers import (found by reading the import statements,
function-local ones included, since Lambda runs the lazy paths too) and the third-party
distributions those modules import, with their dependencies, at the versions pinned in
requirements.txt, as wheels for Lambda's platform (CPython 3.13 on Amazon Linux 2023, x86_64).

boto3, botocore and their dependencies are not bundled: Lambda's Python runtimes include them, and
the handlers' graph (polars, numpy, kafka-python) leaves no room for a second copy within the quota.
The handlers use only long-standing Feature Store and SageMaker runtime calls; the handlers' test runs
the zip next to the pinned boto3, as the runtime would.

The same inputs give the same bytes: entries sorted, timestamps 1980-01-01, mode 0644, no
`__pycache__`, no console scripts. The unzipped size must fit Lambda's 250 MB quota; the build
estimates it from the build environment's installed copies before downloading anything.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = (REPO_ROOT / "lib", REPO_ROOT)  # where the kit's packages live (pyproject: lib/ and .)
ENTRY_MODULES = ("fraudkit.streaming.handlers",)
# Distributions the Lambda Python runtime provides (boto3 and what it depends on).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# Imported somewhere on the handlers' import graph but never run by the functions, which use the aws
# backend to score and ingest only; the handlers' test runs them from the zip alone, which proves it.
OUTSIDE_THE_FUNCTIONS = {
    "fraudkit.backends.local": "the functions run with FRAUDKIT_BACKEND=aws",
    "duckdb": "the offline store is read by the notebooks, not by the functions",
    "sagemaker": "the serving image is chosen when a model is deployed, not when it is invoked",
}
REQUIREMENTS = REPO_ROOT / "requirements.txt"
DEFAULT_OUT = REPO_ROOT / "build" / "package"
ZIP_NAME = "fraudkit-lambda.zip"
# Lambda quota: deployment package (function and layers together) at most 250 MB unzipped.
UNZIPPED_LIMIT = 262_144_000
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644


@dataclass(frozen=True)
class Target:
    """The interpreter and platforms the wheels are chosen for."""

    python_version: str
    platforms: tuple[str, ...] = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")


LAMBDA_TARGET = Target("3.13")  # Runtime python3.13 in cloudformation/fraudkit.yaml (glibc 2.34)


class PackageError(RuntimeError):
    """The package cannot be built; the message says why and what to change."""


class PackageTooLarge(PackageError):
    """The package would exceed Lambda's unzipped size quota."""


@dataclass(frozen=True)
class Plan:
    """What goes into the zip: the kit's module files and the pinned distributions."""

    imports: Imports
    distributions: dict[str, str]  # canonical name -> pinned version
    why: dict[str, str] = field(default_factory=dict)  # distribution -> how the handlers come to need it
    estimated_bytes: dict[str, int] = field(default_factory=dict)  # distribution -> installed size here

    @property
    def modules(self) -> dict[str, Path]:
        return self.imports.modules


def _module_file(name: str, roots: tuple[Path, ...]) -> Path | None:
    for root in roots:
        base = root.joinpath(*name.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


def _is_type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` except the bodies of `if TYPE_CHECKING:` (imports for type checkers only)."""
    nodes, pending = [], [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        children = list(ast.iter_child_nodes(node))
        if _is_type_checking_block(node):
            children = [*cast(ast.If, node).orelse]
        pending.extend(children)
    return nodes


def _imported_names(source: Path, module: str) -> set[str]:
    """Absolute names imported anywhere in `source` at run time (relative imports resolved against
    `module`), function-local imports included, `if TYPE_CHECKING:` imports not."""
    is_package = source.name == "__init__.py"
    names: set[str] = set()
    for node in _run_time_nodes(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix == "__future__":
                continue
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


@dataclass(frozen=True)
class Imports:
    """The kit's modules reachable from the entries, and what else they import."""

    modules: dict[str, Path]  # module -> source file
    external: dict[str, set[str]]  # top-level name outside the kit -> kit modules importing it
    reached_from: dict[str, str]  # module -> the module whose import reached it first

    def chain(self, module: str) -> str:
        """`entry -> ... -> module`, the import path that brings `module` into the package."""
        path = [module]
        while path[-1] in self.reached_from:
            path.append(self.reached_from[path[-1]])
        return " -> ".join(reversed(path))


def trace_imports(entries: tuple[str, ...], roots: tuple[Path, ...]) -> Imports:
    """Follow the import statements of `entries` through the kit's modules (breadth first)."""
    first_party = {path.name.removesuffix(".py") for root in roots for path in root.iterdir()}
    imports = Imports({}, {}, {})
    pending = [(entry, "") for entry in entries]
    while pending:
        name, importer = pending.pop(0)
        if name in imports.modules:
            continue
        source = _module_file(name, roots)
        if source is None:
            continue  # `from package import name` where name is an attribute, not a module
        imports.modules[name] = source
        if importer:
            imports.reached_from[name] = importer
        parts = name.split(".")
        pending += [(".".join(parts[:i]), name) for i in range(1, len(parts))]
        for imported in sorted(_imported_names(source, name)):
            top = imported.split(".")[0]
            if imported in OUTSIDE_THE_FUNCTIONS or top in OUTSIDE_THE_FUNCTIONS:
                continue
            if top in first_party and _module_file(top, roots):
                pending.append((imported, name))
            elif top not in sys.stdlib_module_names:
                imports.external.setdefault(top, set()).add(name)
    for entry in entries:
        if entry not in imports.modules:
            raise PackageError(f"entry module {entry} not found under {', '.join(map(str, roots))}")
    return imports


def read_pins(requirements: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file, by canonical name."""
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _target_environment(target: Target) -> dict[str, str]:
    environment = default_environment()
    environment.update(
        python_version=target.python_version,
        python_full_version=f"{target.python_version}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
    )
    return environment


def _installed_size(name: str) -> int:
    files = importlib.metadata.distribution(name).files or []
    return sum(item.size or 0 for item in files)


def make_plan(
    entries: tuple[str, ...] = ENTRY_MODULES,
    roots: tuple[Path, ...] = SOURCE_ROOTS,
    requirements: Path = REQUIREMENTS,
    target: Target = LAMBDA_TARGET,
) -> Plan:
    """The modules and the pinned distributions (with their dependencies) the entries need on `target`."""
    imports = trace_imports(entries, roots)
    providers = importlib.metadata.packages_distributions()
    pins = read_pins(requirements)
    why: dict[str, str] = {}
    for top, users in sorted(imports.external.items()):
        if top not in providers:
            raise PackageError(
                f"no installed distribution provides `{top}` (imported by {', '.join(sorted(users))})"
            )
        first = min(users, key=lambda user: (len(imports.chain(user)), user))
        for provider in providers[top]:
            why.setdefault(canonicalize_name(provider), f"{imports.chain(first)} imports {top}")
    environment = {**_target_environment(target), "extra": ""}
    distributions: dict[str, str] = {}
    pending = sorted(why)
    while pending:
        name = pending.pop(0)
        if name in distributions or name in RUNTIME_PROVIDED:
            continue
        if name not in pins:
            raise PackageError(
                f"{name} is needed by the handlers ({why[name]}) but not pinned in {requirements.name}"
            )
        distributions[name] = pins[name]
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                dependency = canonicalize_name(requirement.name)
                why.setdefault(dependency, f"a dependency of {name}")
                pending.append(dependency)
    estimated = {name: _installed_size(name) for name in distributions}
    return Plan(imports, dict(sorted(distributions.items())), why, estimated)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _size_report(sizes: dict[str, int], plan: Plan) -> str:
    lines = []
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:8]:
        lines.append(f"  {_mib(size):>11}  {name}: {plan.why.get(name, 'the kit itself')}")
    return "\n".join(lines)


def check_size(sizes: dict[str, int], plan: Plan, limit: int, what: str) -> None:
    """Raise PackageTooLarge, naming the largest distributions and who imports them, when over `limit`."""
    total = sum(sizes.values())
    if total > limit:
        raise PackageTooLarge(
            f"the Lambda package would be {_mib(total)} unzipped ({what}), over the limit of {_mib(limit)} "
            "(Lambda's quota for a function and its layers). The largest parts and why they are in:\n"
            f"{_size_report(sizes, plan)}\n"
            "Import these lazily or drop them from the handlers' import graph."
        )


def _pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise PackageError(f"pip {arguments[0]} failed:\n{completed.stderr.strip()}")


def _platform_options(target: Target) -> list[str]:
    options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python_version]
    options += ["--abi", target.abi, "--abi", "abi3", "--abi", "none"]
    for platform in target.platforms:
        options += ["--platform", platform]
    return options


def install_distributions(plan: Plan, target: Target, wheels: Path, site: Path) -> None:
    """Download the pinned wheels for `target` (kept in `wheels` between builds) and install them into `site`."""
    pinned = [f"{name}=={version}" for name, version in plan.distributions.items()]
    _pip("download", "--no-deps", "--dest", str(wheels), *_platform_options(target), *pinned)
    _pip(
        "install", "--no-deps", "--no-compile", "--no-index", "--find-links", str(wheels),
        "--target", str(site), *_platform_options(target), *pinned,
    )  # fmt: skip
    # console scripts carry the build machine's interpreter path in their shebang
    shutil.rmtree(site / "bin", ignore_errors=True)


def copy_modules(plan: Plan, roots: tuple[Path, ...], site: Path) -> None:
    for name, source in plan.modules.items():
        root = next(
            root for root in roots if source.is_relative_to(root) and _module_file(name, (root,)) == source
        )
        destination = site / source.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def tree_sizes(site: Path) -> dict[str, int]:
    """Bytes per top-level entry of the unpacked package (import packages and dist-info folders)."""
    sizes: dict[str, int] = {}
    for path in site.rglob("*"):
        if path.is_file():
            top = path.relative_to(site).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def write_zip(site: Path, destination: Path) -> None:
    """A zip of `site` whose bytes depend only on the files' paths and contents."""
    files = sorted(
        (path for path in site.rglob("*") if path.is_file() and "__pycache__" not in path.parts),
        key=lambda path: path.relative_to(site).as_posix(),
    )
    partial = destination.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), FIXED_DATE_TIME)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(destination)


def build(
    out: Path = DEFAULT_OUT,
    entries: tuple[str, ...] = ENTRY_MODULES,
    roots: tuple[Path, ...] = SOURCE_ROOTS,
    requirements: Path = REQUIREMENTS,
    target: Target = LAMBDA_TARGET,
    limit: int = UNZIPPED_LIMIT,
) -> Path:
    """Build `out/fraudkit-lambda.zip`; raises PackageTooLarge before downloading when it cannot fit."""
    plan = make_plan(entries, roots, requirements, target)
    check_size(plan.estimated_bytes, plan, limit, "estimated from this environment's installed copies")
    site = out / "site"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    install_distributions(plan, target, out / "wheels", site)
    copy_modules(plan, roots, site)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)
    check_size(tree_sizes(site), plan, limit, "as built")
    destination = out / ZIP_NAME
    write_zip(site, destination)
    return destination


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.aws.package",
        description="Build the Lambda zip of the streaming handlers (reproducible, pinned, for Lambda's platform), "
        "then the Managed Flink application's zip (fraudkit.streaming.flink_app.package).",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--python-version",
        default=LAMBDA_TARGET.python_version,
        help="interpreter version the wheels are chosen for (default: the functions' runtime, %(default)s)",
    )
    parser.add_argument(
        "--plan", action="store_true", help="print the modules and distributions, build nothing"
    )
    args = parser.parse_args(argv)
    target = Target(args.python_version)
    try:
        if args.plan:
            plan = make_plan(target=target)
            print("\n".join(sorted(plan.modules)))
            for name, version in plan.distributions.items():
                print(
                    f"{name}=={version}  {_mib(plan.estimated_bytes[name])} installed here; {plan.why[name]}"
                )
            return 0
        path = build(args.out, target=target)
    except PackageError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    unzipped = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    print(f"{path}: {_mib(path.stat().st_size)} zipped, {_mib(unzipped)} unzipped, sha256 {sha256_of(path)}")
    from fraudkit.streaming.flink_app import package as flink_app  # the Managed Flink application's zip

    try:
        app = flink_app.build(args.out)
    except PackageError as error:  # its jars come from Maven: one line saying which to put where
        print(f"package: {error}", file=sys.stderr)
        return 1
    print(f"{app}: {_mib(app.stat().st_size)} zipped, sha256 {sha256_of(app)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
