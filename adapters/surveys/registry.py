"""The survey clients by configuration name, each imported the first time it is looked up.

A client module brings its archive's readers (astropy's FITS and WCS for the MAST missions, the HTTP
stack for the real archives), seconds of imports that ``vo status`` of a demo project never needs. The
registry names every client by module and class, so a configuration's surveys load only their own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Callable, Iterable, Iterator

__all__ = ["CLIENTS", "LazyMapping", "SURVEYS", "survey_parameters"]

#: Survey name -> ``module:Class`` of its client; a new survey plugs in here.
CLIENTS = {
    "demo": "virtualobserver.adapters.surveys.demo:VirtualDemoObs",
    "ztf": "virtualobserver.adapters.surveys.ztf:VirtualZTF",
    "tess": "virtualobserver.adapters.surveys.tess:VirtualTESS",
    "kepler": "virtualobserver.adapters.surveys.kepler:VirtualKepler",
    "k2": "virtualobserver.adapters.surveys.kepler:VirtualK2",
}


class LazyMapping(Mapping):
    """A read-only mapping over fixed keys whose values are made by ``load(key)`` on first lookup, then kept.

    Keys, membership and length never load anything, so code that only names or checks surveys
    (configuration validation, ``sorted(mapping)``) stays cheap.

    Parameters
    ----------
    keys : iterable of str
        The keys, in order.
    load : callable
        ``load(key)`` returns the value of ``key``.
    """

    def __init__(self, keys: Iterable[str], load: Callable[[str], object]):
        self._keys = tuple(keys)
        self._load = load
        self._values: dict[str, object] = {}

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        if key not in self._values:
            self._values[key] = self._load(key)
        return self._values[key]

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._keys)})"


def _client(name: str) -> type:
    module, _, cls = CLIENTS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def _parameters_class(name: str) -> type:
    return SURVEYS[name].parameters_class


#: Survey clients by configuration name (classes; each module imported on first lookup).
SURVEYS = LazyMapping(CLIENTS, _client)


def survey_parameters() -> Mapping[str, type]:
    """Return survey name -> the class of its ``download`` block, each loaded when a configuration uses it.

    Returns
    -------
    Mapping
        A :class:`LazyMapping` over every survey's name.
    """
    return LazyMapping(CLIENTS, _parameters_class)
