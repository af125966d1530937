"""The demo survey with images (``images: true``) through ``vo run``: a neighbour's flare is flagged by its centroid shift.

Which detection is whose is known from the demo's own truth (the neighbour drawn for each source,
:func:`adapters.surveys.demo_pixels.neighbour_of`), not from the statistic under test. The geometry
gives the expected offset: the neighbour is 2.7-3.3 px from the target by construction.
"""

from __future__ import annotations

import pytest

from virtualobserver.adapters.catalogs.demo import write_demo_catalog
from tests.e2e.helpers import vo_json

DOWNLOAD = {"num_points": 200, "flare_fraction": 0.3, "dip_fraction": 0.0, "images": True,
            "neighbour_flare_fraction": 0.3}


def demo_detections(tmp_path, url):
    """Run a 40-source demo project with images; return its detections and each source's neighbour."""
    from virtualobserver.adapters.container import open_project
    from virtualobserver.adapters.surveys.demo import DemoParameters, VirtualDemoObs
    from virtualobserver.adapters.surveys.demo_pixels import neighbour_of

    (tmp_path / "p").mkdir()
    write_demo_catalog(tmp_path / "p" / "catalog.csv", rows=40, seed=7)
    download = ", ".join(f"{k}: {str(v).lower()}" for k, v in DOWNLOAD.items())
    config = tmp_path / "p" / "project.yaml"
    config.write_text("project: {name: images, batch_size: 20}\ncatalog: {path: catalog.csv}\n"
                      f"observatories:\n  analysis: {{threshold: 5.0}}\n  demo:\n    download: {{{download}}}\n")
    data = tmp_path / "data"
    run = vo_json("run", str(config), data_dir=data, database_url=url)
    assert run["status"]["analysed"] == 40, run
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", url)
        container, project = open_project(config)
        try:
            rows = project.detections()
            client = VirtualDemoObs(DemoParameters(**DOWNLOAD))
            neighbours = {}
            for name in {r.source for r in rows}:
                mjd = client.download(project.source(name)).columns["mjd"]
                neighbours[name] = neighbour_of(name, 0, mjd, DOWNLOAD["neighbour_flare_fraction"])
        finally:
            container.database().close()
    return rows, neighbours


def test_the_neighbours_flare_is_flagged_by_its_centroid_offset_and_the_targets_flare_is_not(tmp_path,
                                                                                            empty_database_url):
    rows, neighbours = demo_detections(tmp_path, empty_database_url)

    def on_neighbours_flare(row) -> bool:
        n, d = neighbours[row.source], row.detection
        return n.flares and d.start_mjd - n.decay_days <= n.peak_mjd <= d.end_mjd

    measured = [r for r in rows if r.detection.centroid_offset_sigma is not None and r.detection.kind == "brightening"]
    theirs = [r.detection for r in measured if on_neighbours_flare(r)]
    # The target's own flares, of sources whose neighbour never flares: nothing but the target changed.
    own = [r.detection for r in measured if not neighbours[r.source].flares]
    assert theirs and own, (len(theirs), len(own))
    strongest = max(theirs, key=lambda d: d.snr)
    # For light from the target a chi of 2 degrees of freedom exceeds 5 with probability exp(-25 / 2) = 4e-6.
    assert strongest.centroid_offset_sigma > 5
    assert 2.7 - 3 * strongest.centroid_offset_err_px < strongest.centroid_offset_px \
        < 3.3 + 3 * strongest.centroid_offset_err_px
    # 4 arcsec pixels: the offset on the sky is the offset in pixels times 4.
    assert strongest.centroid_shift_arcsec == pytest.approx(strongest.centroid_shift_px * 4.0)
    # ... and exceeds 3.5 with probability exp(-3.5**2 / 2) = 0.2 % (per detection).
    assert all(d.centroid_offset_sigma < 3.5 for d in own), [round(d.centroid_offset_sigma, 2) for d in own]
    assert max(own, key=lambda d: d.snr).centroid_offset_px < 0.5
