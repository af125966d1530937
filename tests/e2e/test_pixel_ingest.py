"""A K2 target pixel file through ``vo ingest`` and ``vo run``: the pixels stored as raw data, the lightcurve made from them.

Expected values as in ``tests/integration/test_target_pixel_files.py`` (astropy, lightkurve's definition of
``to_lightcurve(aperture_mask="pipeline")``; lightkurve itself where it is installed).
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
from astropy.io import fits
import pytest

from tests.e2e.helpers import vo_json
from tests.e2e.test_real_surveys import write_config
from tests.integration.test_target_pixel_files import (
    BKJD_TO_MJD,
    TPF_REAL,
    expected_lightcurve,
    write_synthetic_tpf,
)

EPIC_POSITION = (130.656765, 19.988607)


def ingest_and_run(tmp_path, path, database_url):
    data = tmp_path / "data"
    config = write_config(tmp_path / "k2", "k2", [("EPIC211983544", *EPIC_POSITION), ("Elsewhere", 10.0, -10.0)])
    done = vo_json("ingest", str(config), "k2", str(path), data_dir=data, database_url=database_url)
    assert done["ingested"] == {"EPIC211983544": [str(path)]} and not done["failed"], done
    offline = ("--set", "observatories.k2.download.offline=true")
    run = vo_json("run", str(config), *offline, data_dir=data, database_url=database_url)
    assert run["status"]["analysed"] == 1 and run["status"]["lightcurves"] == 1, run
    return config, data


def stored_lightcurve(config, data, database_url):
    from adapters.container import open_project

    with pytest.MonkeyPatch.context() as env:
        env.setenv("VO_DATA", str(data))
        env.setenv("VO_DATABASE_URL", database_url)
        container, project = open_project(config)
        try:
            [(lc, _)] = project.source_lightcurves("EPIC211983544")
        finally:
            container.database().close()
    return lc


def stored_images(data) -> dict[str, tuple]:
    """Shapes of the images in the raw-data files of the data folder."""
    import h5py

    shapes = {}
    for path in (data / "raw").rglob("*.h5"):
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, item: shapes.update({item.attrs.get("name", name): item.shape})
                         if "images" in name and hasattr(item, "shape") else None)
    return shapes


@pytest.mark.parametrize("which", ["synthetic", "real"])
def test_an_ingested_target_pixel_file_reduces_to_its_pipeline_aperture_lightcurve(tmp_path, which,
                                                                                  empty_database_url, request):
    if which == "real":
        path = shutil.copy(request.getfixturevalue("shared_data") / TPF_REAL, tmp_path / TPF_REAL)
    else:
        path = tmp_path / TPF_REAL
        write_synthetic_tpf(path, n=200)
    config, data = ingest_and_run(tmp_path, path, empty_database_url)
    lc = stored_lightcurve(config, data, empty_database_url)
    expected = expected_lightcurve(path)
    n = fits.getval(path, "NAXIS2", 1)
    # The pixels are raw data: the images of every cadence, the APERTURE bits beside them.
    images = stored_images(data)
    assert images["flux_c18"] == images["flux_err_c18"] == images["flux_bkg_c18"] == (n, 5, 7)
    assert images["aperture_c18"] == (5, 7)
    finite = np.isfinite(expected["flux"]) & np.isfinite(expected["time"])
    searched = lc.flag == 0
    assert (lc.survey, lc.filter, lc.season) == ("k2", "Kepler", 18)
    np.testing.assert_allclose(lc.mjds[searched] - BKJD_TO_MJD, expected["time"][finite], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lc.columns["flux"][searched], expected["flux"][finite], rtol=1e-12)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], expected["flux_err"][finite], rtol=1e-12)
    lk = pytest.importorskip("lightkurve")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lk.read(str(path), quality_bitmask="default").to_lightcurve(aperture_mask="pipeline")
    keep = np.isfinite(theirs.flux.value) & (theirs.time.value != 0)
    np.testing.assert_allclose(lc.columns["flux"][searched], theirs.flux.value[keep], rtol=1e-6)
    np.testing.assert_allclose(lc.columns["fluxerr"][searched], theirs.flux_err.value[keep], rtol=1e-6)
