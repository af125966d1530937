"""Benchmark: what the demo survey's images (``images: true``) add to a demo run.

Run ``python benchmarks/run_demo_images.py [N] [REPEATS]`` (default 1000 sources, 2 repeats). Each repeat runs
the demo project of ``configs/demo.yaml`` (its blocks, simulation included) over the same N-row demo catalog
twice on real PostgreSQL (``VO_DATABASE_URL`` or the embedded server in a temporary folder) and real HDF5
files: with ``images: false`` and with ``images: true``, each as a new project in a new data folder. With
images, every source with a detection has its cubes built again from its raw data and the centroid shift of
each detection measured and its stamps written (one HDF5 file per batch). Prints a Markdown row per run and
the ratio of the medians.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.catalogs.demo import write_demo_catalog  # noqa: E402
from virtualobserver.adapters.container import open_project  # noqa: E402


def one_run(work: Path, n: int, images: bool, tag: str) -> tuple[float, int, int, int]:
    """Run a fresh demo project; return (seconds, detections, with a centroid shift, with stamps)."""
    document = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    document["project"]["name"] = f"images-{tag}"
    document["catalog"] = {"path": str(work / "catalog.csv")}
    document["observatories"]["demo"]["download"]["images"] = images
    config = work / f"{tag}.yaml"
    config.write_text(yaml.safe_dump(document))
    os.environ["VO_DATA"] = str(work / f"data-{tag}")
    container, project = open_project(config, workers=1)
    try:
        start = time.perf_counter()
        project.run()
        seconds = time.perf_counter() - start
        rows = project.detections()
        measured = sum(r.detection.centroid_offset_sigma is not None for r in rows)
        stamped = sum(r.detection.stamps_file is not None for r in rows)
    finally:
        container.database().close()
    return seconds, len(rows), measured, stamped


def main(n: int = 1000, repeats: int = 2) -> None:
    work = Path(tempfile.mkdtemp(prefix="vo-bench-images-"))
    write_demo_catalog(work / "catalog.csv", rows=n, seed=3)
    times: dict[bool, list[float]] = {False: [], True: []}
    print("| images | sources | run s | detections | with centroid shift | with stamps |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in range(repeats):
        for images in (False, True):
            seconds, found, measured, stamped = one_run(work, n, images, f"{k}-{images}")
            times[images].append(seconds)
            print(f"| {str(images).lower()} | {n} | {seconds:.1f} | {found} | {measured} | {stamped} |", flush=True)
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"\nmedian with images / without: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
