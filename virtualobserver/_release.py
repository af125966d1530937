"""The code's release: from git in a source checkout, from the installed package's metadata otherwise."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


@functools.cache
def release() -> str:
    """Return the code's version, distinct for every commit.

    In a git checkout it is computed now by setuptools-scm from the tags and commits (``0.1.devN+gHASH``, with
    ``.dYYYYMMDD`` when the work tree has uncommitted changes), so an editable install never reports the commit
    it was installed at. Otherwise it is the version the wheel was built with, itself from git.

    Returns
    -------
    str
        A PEP 440 version; ``"unknown"`` for a source tree that is neither a checkout nor installed.
    """
    if (_CHECKOUT / ".git").exists():
        try:
            from setuptools_scm import get_version

            return get_version(root=str(_CHECKOUT), fallback_version="0.1.0")
        except (ImportError, LookupError, OSError, subprocess.SubprocessError):
            pass
    try:
        return metadata.version("virtualobserver")
    except metadata.PackageNotFoundError:
        return "unknown"
