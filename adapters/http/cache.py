"""RawCache: raw archive answers on disk under $VO_DATA/cache, shared by every project."""

from __future__ import annotations

import hashlib
import os
import pathlib
import re

__all__ = ["RawCache", "safe_key"]

_SURVEY = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-+.]")


def safe_key(key: str) -> str:
    """Return a folder name for any source name: readable, bounded, and unique per key.

    Unsafe characters become ``_`` and the name is cut to 64 characters; a hash
    of the full key keeps distinct keys apart (also on case-insensitive file
    systems). No result can be ``.``, ``..`` or contain a separator.

    Parameters
    ----------
    key : str
        Any text, e.g. a source name such as ``"NGC 104 / star #3"``.

    Returns
    -------
    str
        A plain folder name.

    Examples
    --------
    >>> safe_key("../etc/passwd")[:15]
    '_.._etc_passwd-'
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = _UNSAFE.sub("_", key)[:64]
    # A leading dot would hide the folder and allow "." / ".." names.
    if not readable or readable.startswith("."):
        readable = "_" + readable
    return f"{readable}-{digest}"


class RawCache:
    """Raw answers stored as ``root/survey/<shard>/<safe key>/<filename>``.

    The shard (two hex digits of the key's hash) keeps any one folder small
    with millions of sources. Keys may be hostile; paths never leave ``root``.

    Parameters
    ----------
    root : pathlib.Path
        Cache folder, normally ``$VO_DATA/cache``.
    """

    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root)

    def path(self, survey: str, key: str, filename: str) -> pathlib.Path:
        """Return where the answer ``filename`` for ``key`` is kept, creating its folder.

        Parameters
        ----------
        survey : str
            Survey name (lower-case letters, digits, ``_``, ``-``).
        key : str
            Any text identifying the request, usually the source name.
        filename : str
            A plain file name (no folders, no leading dot).

        Returns
        -------
        pathlib.Path
            The file path (the file itself may not exist yet).

        Raises
        ------
        ValueError
            If ``survey`` or ``filename`` is not a plain name.
        """
        _check_survey(survey)
        _check_filename(filename)
        name = safe_key(key)
        shard = name[-16:-14]  # the first two hex digits of the key's hash
        folder = self.root / survey / shard / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename

    def size_bytes(self, survey: str | None = None) -> int:
        """Return the bytes stored for ``survey``, or for all surveys."""
        if survey is not None:
            _check_survey(survey)
        top = self.root if survey is None else self.root / survey
        total = 0
        for folder, _, files in os.walk(top):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except FileNotFoundError:  # removed meanwhile by another process
                    pass
        return total


def _check_survey(survey: str) -> None:
    if not isinstance(survey, str) or not _SURVEY.fullmatch(survey):
        raise ValueError(f"survey name {survey!r} must be lower-case letters, digits, '_' or '-'")


def _check_filename(filename: str) -> None:
    bad = (
        not isinstance(filename, str)
        or not filename
        or filename.startswith(".")
        or any(c in filename for c in "/\\\0")
        or len(filename.encode("utf-8", "surrogatepass")) > 200
    )
    if bad:
        raise ValueError(f"cache file name {filename!r} must be a plain file name (no folders, no leading dot)")
