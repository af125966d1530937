"""Benchmark: the HEALPix cone cover, cdshealpix's (now) against the hand-written one it replaced (issue 18).

Run ``python benchmarks/run_cone_cover.py [CONES]`` (default 200 per radius). For random centres and radii
of 1 arcsec to 5 degrees it times ``domain.healpix.cone_ranges`` and the previous cover (the module as of
commit ``OLD``, read with ``git show``), alternating the two so both see the same machine load, and
reports per radius: the median time per cover, how much larger than the cone the cover is (its area over
the cap's, 2 pi (1 - cos r)), and how many index ranges (SQL ``BETWEEN`` clauses) it has. Both covers are
checked against brute force: every one of 200,000 random positions within a cone must be in its cover.
Prints Markdown rows for ``benchmarks/results.md``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.domain.healpix import INDEX_ORDER, ang2pix_nested, cone_ranges  # noqa: E402

#: The last commit with the hand-written cover (grid sampling of the widened cone at a coarse order).
OLD = "e1e14af"
RADII_DEG = (1 / 3600, 30 / 3600, 0.1, 1.0, 5.0)
SKY_DEG2 = 4 * np.pi * np.degrees(1.0) ** 2


def old_cover():
    """Return the previous ``cone_ranges``, from the repository's history."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD}:domain/healpix.py"], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("old_healpix")
    exec(compile(source, f"{OLD}:domain/healpix.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module.cone_ranges


def distance_deg(ra0, dec0, ra, dec):
    """Great-circle distance by unit vectors (brute force, independent of both covers)."""
    def unit(r, d):
        r, d = np.radians(r), np.radians(d)
        return np.stack(np.broadcast_arrays(np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)), axis=-1)

    a, b = unit(ra0, dec0), unit(ra, dec)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def covered(ranges, pixels):
    inside = np.zeros(pixels.size, bool)
    for lo, hi in ranges:
        inside |= (pixels >= lo) & (pixels <= hi)
    return inside


def main(cones: int) -> None:
    old = old_cover()
    rng = np.random.default_rng(2026)
    sky_ra, sky_dec = rng.uniform(0, 360, 200_000), np.degrees(np.arcsin(rng.uniform(-1, 1, 200_000)))
    pixels = ang2pix_nested(INDEX_ORDER, sky_ra, sky_dec)
    cone_ranges(0.0, 0.0, 1.0), old(0.0, 0.0, 1.0)  # imports (astropy, cdshealpix) outside the timing
    rows = []
    for radius in RADII_DEG:
        centres = list(zip(rng.uniform(0, 360, cones), np.degrees(np.arcsin(rng.uniform(-1, 1, cones)))))
        stats = {"old": ([], [], []), "new": ([], [], [])}
        for i, (ra, dec) in enumerate(centres):
            near = distance_deg(ra, dec, sky_ra, sky_dec) <= radius
            pairs = (("old", old), ("new", cone_ranges)) if i % 2 else (("new", cone_ranges), ("old", old))
            for name, cover in pairs:
                start = time.perf_counter()
                ranges = cover(ra, dec, radius)
                seconds = time.perf_counter() - start
                assert covered(ranges, pixels)[near].all(), (name, ra, dec, radius)  # no position inside is missed
                area = sum(hi - lo + 1 for lo, hi in ranges) * SKY_DEG2 / (12 * 4**INDEX_ORDER)
                times, ratios, counts = stats[name]
                times.append(seconds)
                ratios.append(area / (2 * np.pi * (1 - np.cos(np.radians(radius))) * np.degrees(1.0) ** 2))
                counts.append(len(ranges))
        (t_old, a_old, n_old), (t_new, a_new, n_new) = stats["old"], stats["new"]
        rows.append(f"| {radius * 3600:g}\" | {np.median(t_old) * 1e3:.2f} ms | {np.median(t_new) * 1e3:.2f} ms | "
                    f"{np.median(t_old) / np.median(t_new):.1f}x | {np.mean(a_old):.2f} | {np.mean(a_new):.2f} | "
                    f"{np.mean(n_old):.1f} | {np.mean(n_new):.1f} |")
    load = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {load:.2f}, {cones} cones per radius, all covers complete "
          "against brute force (200,000 positions)")
    print("| radius | old time | new time | old/new | old area/cone | new area/cone | old ranges | new ranges |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
