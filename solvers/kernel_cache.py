"""What numba's on-disk cache holds of the solvers' kernels, and loading it ahead of a call.

The kernels are compiled with ``cache=True``: numba keeps them in ``__pycache__`` (or
NUMBA_CACHE_DIR), indexed by the source file's stamp and by this machine's CPU. A process
pays ~0.05-0.1 s a kernel to load them at their first call, and 19 s to compile them all
when the cache is cold (a fresh clone, an edited solver). Two users: the warm runner loads
every cached kernel before a command arrives, and a run starts the knapsack's compilation
in a process of its own when the cache is cold (knapsack/kernel_warmup.py).

Reading the index is numba 0.68's private API: each function here fails soft (nothing
loaded, no signature), which only leaves a kernel to be loaded or compiled at its first
call, as in any process.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from numba.core.registry import CPUDispatcher


def kernels_of(package: ModuleType) -> list[CPUDispatcher]:
    """Every numba kernel defined at module level in ``package`` and its subpackages."""
    found: list[CPUDispatcher] = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        found.extend(k for k in vars(module).values() if isinstance(k, CPUDispatcher) and k.__module__ == info.name)
    return found


def cached_signatures(kernel: CPUDispatcher) -> list[tuple]:
    """The argument types the cache holds compiled code of, for this machine's CPU."""
    try:
        magic = kernel.targetctx.codegen().magic_tuple()  # type: ignore[attr-defined]
        index = kernel._cache._cache_file._load_index()  # type: ignore[attr-defined]
        return [key[0] for key in index if key[1] == magic]
    except Exception:  # noqa: BLE001 - see the module docstring
        return []


def load_cached_kernels(package: ModuleType) -> int:
    """Load every cached kernel of ``package`` now (38 for solvers/ on a machine that ran a
    day: 0.2 s), so that no call pays for it later. Returns how many were loaded."""
    loaded = 0
    for kernel in kernels_of(package):
        for signature in cached_signatures(kernel):
            try:
                kernel.compile(signature)  # found in the cache: loaded, not compiled
            except Exception:  # noqa: BLE001 - see the module docstring
                continue
            loaded += 1
    return loaded
