"""Remove credentials (URL user info, secret-looking query values) from text shown to users."""

from __future__ import annotations

import re

__all__ = ["redact"]

# Query parameter names that may carry a secret; over-redacting a harmless name costs nothing.
_SECRET_NAME = r"[\w.\-]*(?:pass|pwd|token|secret|key|auth|sig|session|cookie|credential)[\w.\-]*"
_SECRET_QUERY = re.compile(rf"(?i)([?&;]{_SECRET_NAME}=)[^&;\s'\"#)]*")
_USER_INFO = re.compile(r"(//)[^/@\s'\"]+@")


def redact(text: str) -> str:
    """Return ``text`` with URL user info and secret-looking query values replaced by ``***``.

    Parameters
    ----------
    text : str
        A URL, or any message that may contain URLs.

    Returns
    -------
    str
        The same text without credentials.

    Examples
    --------
    >>> redact("https://me:pw@host/q?ID=1&token=abc")
    'https://***@host/q?ID=1&token=***'
    """
    return _SECRET_QUERY.sub(r"\1***", _USER_INFO.sub(r"\1***@", text))
