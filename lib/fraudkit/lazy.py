"""Package attributes that load their submodule on first use (PEP 562).

The Lambda functions import a few light names from `fraudkit.features`, `fraudkit.model` and
`fraudkit.featurestore` (window specs, the model's column order, record names). Importing a package
runs its `__init__`, so an `__init__` that imported the batch engines, training and plotting would put
pandas, DuckDB, XGBoost and scikit-learn into every function and past Lambda's 250 MB. Those packages
therefore bind their heavy names lazily: readers and type checkers see them in an `if TYPE_CHECKING:`
import next to the mapping, and the import happens by name, at run time, when a name is first used.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any


def submodule_attributes(
    package: str, package_path: Iterable[str], names_by_module: dict[str, tuple[str, ...]]
) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<module>` when one of its `names` is first asked for.

    A lazy name must not be the name of a submodule: importing that submodule binds the package
    attribute to the module, and `from package import name` would then give the module.
    """
    module_of = {name: module for module, names in names_by_module.items() for name in names}
    clashes = sorted(set(module_of) & {info.name for info in pkgutil.iter_modules(package_path)})
    if clashes:
        raise ValueError(f"{package}: lazy names {clashes} are also submodules; import them eagerly")

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module_of[name]}"), name)

    return __getattr__
