"""Failed sources grouped by what went wrong: one line per kind of failure, not one per source or URL."""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["failure_classes", "failure_lines"]

_URL = re.compile(r"https?://[^\s;,)'\"]+")
_LINE = 160  # characters of a failure's text on one terminal line, cut at a word


def _host(match: re.Match) -> str:
    url = match.group(0)
    tail = url[len(url.rstrip(":.")):]  # "…?ID=a: HTTP 503": the colon ends the label, not the URL
    host = urllib.parse.urlsplit(url.rstrip(":.")).netloc.rsplit("@", 1)[-1]  # never the (redacted) user
    return (host or "the archive") + tail


def _kind(source: str, message: str) -> str:
    # Two sources fail "the same way" when their messages differ only in the URL's path and query (which
    # name the source) and in the source's own name.
    text = _URL.sub(_host, message)
    if source:
        text = text.replace(repr(source), "SOURCE")
        text = re.sub(rf"(?<![\w.-]){re.escape(source)}(?![\w.-])", "SOURCE", text)
    return " ".join(text.split())


def failure_classes(failures: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Group failed sources by the kind of their failure.

    Parameters
    ----------
    failures : dict of str to str
        Failure message by source name.

    Returns
    -------
    list of (str, list of str)
        Each kind's text (URLs reduced to their host, the source's name to ``SOURCE``) with the sources
        that failed so, most sources first.

    Examples
    --------
    >>> failure_classes({"a": "ztf: https://irsa.example/lc?ID=a: HTTP 503", "b": "ztf: https://irsa.example/lc?ID=b: HTTP 503"})
    [('ztf: irsa.example: HTTP 503', ['a', 'b'])]
    """
    kinds: dict[str, list[str]] = {}
    for source, message in failures.items():
        kinds.setdefault(_kind(source, message), []).append(source)
    return sorted(((kind, sorted(names)) for kind, names in kinds.items()), key=lambda item: (-len(item[1]), item[0]))


def _cut(text: str, width: int = _LINE) -> str:
    if len(text) <= width:
        return text
    return text[:width].rsplit(" ", 1)[0].rstrip(" ;:,") + " …"


def failure_lines(failures: dict[str, str], *, examples: int = 3) -> list[str]:
    """One line per kind of failure: how many sources, a few of their names, and what went wrong.

    Parameters
    ----------
    failures : dict of str to str
        Failure message by source name.
    examples : int
        Names shown per kind.

    Returns
    -------
    list of str
        E.g. ``"2 sources failed (a, b): ztf: irsa.example: HTTP 503"``; a long message is cut at a word.
    """
    lines = []
    for kind, names in failure_classes(failures):
        shown = ", ".join(names[:examples]) + (", …" if len(names) > examples else "")
        noun = "source" if len(names) == 1 else "sources"
        lines.append(f"{len(names)} {noun} failed ({shown}): {_cut(kind)}")
    return lines
