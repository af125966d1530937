"""Write a screenshot (SVG and PNG) of every screen of the TUI, built over fakes: ``python -m tests.tui.screenshots``.

The PNGs are rendered from the SVGs with resvg (a wheel with no system library); the SVGs
ask for the web font "Fira Code", which is swapped for a monospace font installed here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tests.tui.snapshot_app import SCREEN_KEYS, build_app

__all__ = ["main", "take", "svg_to_png"]

#: Monospace fonts to draw with, best first (the first one the system has is used).
FONTS = ("DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono", "monospace")


async def take(name: str, keys: list[str], size: tuple[int, int]) -> str:
    """Return the SVG of the screen reached by pressing ``keys`` in a fresh app."""
    app = build_app()
    async with app.run_test(size=size) as pilot:
        for key in ["", *keys]:
            if key:
                await pilot.press(key)
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
        return app.export_screenshot(title=f"virtualobserver — {name}")


def svg_to_png(svg: str) -> bytes | None:
    """Render ``svg`` to PNG bytes with resvg (None when resvg is not installed)."""
    try:
        import resvg_py
    except ImportError:
        return None
    for font in FONTS:
        text = svg.replace("Fira Code", font)
        png = resvg_py.svg_to_bytes(svg_string=text, font_family=font, monospace_family=font)
        if png:
            return bytes(png)
    return None


def main(argv: list[str] | None = None) -> int:
    """Write ``<screen>.svg`` and ``<screen>.png`` for every screen into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="results/screenshots", help="folder (default %(default)s)")
    parser.add_argument("--size", default="100x30", help="terminal size COLUMNSxROWS (default %(default)s)")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    missing_png = False
    for name, keys in SCREEN_KEYS.items():
        svg = asyncio.run(take(name, keys, size))
        (out / f"{name}.svg").write_text(svg, encoding="utf-8")
        png = svg_to_png(svg)
        if png is None:
            missing_png = True
        else:
            (out / f"{name}.png").write_bytes(png)
        print(f"wrote {out / name}.svg" + ("" if png is None else " and .png"))
    if missing_png:
        print("PNG needs resvg-py (pip install -e '.[test]')", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
