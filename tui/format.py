"""Small text formatting helpers shared by the screens."""

from __future__ import annotations

import math

from rich.text import Text

__all__ = ["fmt", "duration", "count", "short_version", "label_text"]


def fmt(value, spec: str = ".2f", missing: str = "-") -> str:
    """Return ``value`` formatted with ``spec``, or ``missing`` for None and NaN.

    Parameters
    ----------
    value : float or None
        Number to format.
    spec : str
        Format specification.
    missing : str
        Text for a missing value.

    Returns
    -------
    str
        The text.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return format(value, spec)


def count(n: int) -> str:
    """Return ``n`` with thousands separators (``1,278``)."""
    return f"{n:,}"


def duration(seconds: float | None) -> str:
    """Return a duration as ``H:MM:SS`` (``-:--:--`` when unknown).

    Parameters
    ----------
    seconds : float or None
        Duration.

    Returns
    -------
    str
        The text.
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def short_version(version: str | None) -> str:
    """Return the first 8 characters of a version hash (enough to tell versions apart on screen)."""
    return (version or "")[:8]


_LABEL_STYLE = {"real": "bold green", "artifact": "red", "unsure": "yellow"}


def label_text(label: str | None) -> Text:
    """Return a triage label as styled text (``·`` for a detection nobody judged yet).

    Parameters
    ----------
    label : str or None
        ``real``, ``artifact``, ``unsure`` or None.

    Returns
    -------
    rich.text.Text
        The label, green, red or yellow.
    """
    return Text(label or "·", style=_LABEL_STYLE.get(label, "dim"))
