"""pytest plugin for mutation runs (``-p tests.mutation_plugin`` in ``[tool.mutmut]`` of pyproject.toml).

mutmut runs each mutant in a process forked from a server that has only collected the tests
(``process_isolation = "forkserver"``). Measured on 2026-12-07, most of a mutant's time went not to
its tests but to two costs of every fork, and a killed mutant often ran slow tests before the one
that failed. This plugin changes none of the tests, only when work is done:

- the server, after collecting, imports the modules the tests import lazily (xarray imports
  ``dask.array`` on its first array), so that no fork imports them again;
- the server then freezes its heap (``gc.freeze``): pytest collects garbage five times at the end
  of every session, and each full collection walked (and so copied, page by page) the whole
  inherited heap;
- a mutant's tests run fastest first (by the durations of mutmut's clean run), so a mutant is
  stopped (``-x``) by the quickest test that fails on it. A survivor still runs every test.

Outside a mutmut run (no ``MUTANT_UNDER_TEST``, or mutmut's own ``stats`` and ``fail`` runs) it
changes nothing.
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
from pathlib import Path

# Imported on first use by a dependency, so in every forked worker unless imported before the fork.
_LAZY_IMPORTS = ("dask.array", "xarray.core.duck_array_ops", "scipy.stats", "scipy.special", "scipy.optimize")
# Values of MUTANT_UNDER_TEST that are not a mutant: mutmut's clean, stats and forced-fail runs.
_NOT_A_MUTANT = {"", "stats", "fail", "mutant_generation"}
# mutmut writes the clean run's durations here (the workers' working directory is mutants/).
_STATS = Path("mutmut-stats.json")


def _mutant_under_test() -> str:
    return os.environ.get("MUTANT_UNDER_TEST", "")


def pytest_collection_finish(session) -> None:
    """After the fork server's collection: import lazy dependencies, then freeze the heap."""
    if not session.config.option.collectonly or "MUTANT_UNDER_TEST" not in os.environ:
        return
    for name in _LAZY_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional dependency: its tests skip
            pass
    gc.freeze()


def pytest_collection_modifyitems(session, config, items) -> None:
    """Order a mutant's tests by their clean durations, fastest first."""
    if _mutant_under_test() in _NOT_A_MUTANT or not _STATS.is_file():
        return
    try:
        durations = json.loads(_STATS.read_text())["duration_by_test"]
    except (ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, math.inf))
