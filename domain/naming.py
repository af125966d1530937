"""Safe on-disk names derived from arbitrary source names."""

from __future__ import annotations

import hashlib
import re

__all__ = ["safe_key", "shard"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_key(name: str, *, max_length: int = 48) -> str:
    """Return a file-system-safe, collision-resistant key for a source name.

    The key keeps a readable slug of the name (letters, digits, ``_.-`` only,
    never starting with a dot) and appends a hash of the full name, so
    ``"a/b"`` and ``"a_b"`` differ and ``"../../x"`` can never become a path.

    Parameters
    ----------
    name : str
        Any source name.
    max_length : int
        Maximum length of the readable part.

    Returns
    -------
    str
        A key such as ``"Gaia_DR3_123-1a2b3c4d5e6f"``.

    Examples
    --------
    >>> "/" in safe_key("../../etc/passwd")
    False
    """
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    slug = _UNSAFE.sub("_", name).lstrip(".-_")[:max_length] or "src"
    return f"{slug}-{digest}"


def shard(key: str) -> str:
    """Return a two-character sub-folder for a key, so no folder grows huge.

    Parameters
    ----------
    key : str
        A key from :func:`safe_key`.

    Returns
    -------
    str
        The first two characters of the key's hash suffix.
    """
    return key.rsplit("-", 1)[-1][:2]
