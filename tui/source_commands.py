"""SourceCommands: the command palette's "Open source NAME" entries (ctrl+p, then type part of a name)."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["SourceCommands"]

#: At most this many matching sources are offered per search (the palette shows a screenful anyway).
MAX_HITS = 40


class SourceCommands(Provider):
    """Offers every registered source of the open project by name; choosing one opens the source screen on it.

    The names are read once per opening of the palette (in a thread); matching is by substring,
    case-insensitive, with the exact name first.
    """

    async def startup(self) -> None:  # noqa: D102
        project = self.app.project
        self.names: list[str] = [] if project is None else await asyncio.to_thread(project.source_names)

    async def search(self, query: str) -> Hits:  # noqa: D102
        term = _name_part(query)
        if not term:
            return
        wanted = term.lower()
        matcher = self.matcher(term)
        found = [name for name in self.names if wanted in name.lower()]
        found.sort(key=lambda name: (name.lower() != wanted, len(name), name))
        for name in found[:MAX_HITS]:
            text = f"Open source {name}"
            score = 1.0 if name.lower() == wanted else max(matcher.match(name), 0.5)
            yield Hit(score, matcher.highlight(text), partial(self.app.show_source, name), text=text,
                      help="Show its lightcurves, detections and stamps (source screen, key 4)")

    async def discover(self) -> Hits:  # noqa: D102
        for name in self.names[:5]:
            yield DiscoveryHit(f"Open source {name}", partial(self.app.show_source, name),
                               help="or type part of any source's name")


def _name_part(query: str) -> str:
    """The name typed, without a leading "open source" or "source" (the entries' own words)."""
    term = query.strip()
    for prefix in ("open source ", "source ", "open "):
        if term.lower().startswith(prefix):
            return term[len(prefix):].strip()
    return term
