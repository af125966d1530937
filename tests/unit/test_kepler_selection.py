"""Kepler and K2 from MAST answers (the target, the files) and the surveys' defaults of other blocks."""

from __future__ import annotations

import pytest

from virtualobserver.adapters.surveys.kepler import (
    K2_DETREND_WINDOW_DAYS,
    KEPLER_DETREND_WINDOW_DAYS,
    K2Parameters,
    KeplerParameters,
)
from virtualobserver.adapters.surveys.kepler_format import season_from_description
from virtualobserver.adapters.surveys.kepler_selection import choose_target, select_products
from virtualobserver.adapters.surveys.tess import TESS_DETREND_WINDOW_DAYS, TessParameters
from virtualobserver.domain.config import build_config

RA, DEC = 287.86721, 46.98308


def _obs(obsid, name, ra=RA, dec=DEC, **extra):
    return {"obsid": obsid, "target_name": name, "s_ra": ra, "s_dec": dec, "obs_collection": "Kepler", **extra}


def test_choose_target_takes_the_nearest_mission_target_with_all_its_observations():
    rows = [_obs(1, "kplr010002792"), _obs(2, "kplr010002792"), _obs(3, "kplr010002793", dec=DEC + 2 / 3600),
            _obs(4, "kplr2009114174833_ffi"), _obs(5, "ktwo211117077"), _obs(6, "KPLR010002794", dec=DEC - 1 / 3600)]
    target = choose_target(rows, RA, DEC + 0.1 / 3600, 4.0, "kplr")
    assert (target["id"], target["target_name"], target["obsids"]) == (10002792, "kplr010002792", ["1", "2"])
    assert target["distance_arcsec"] == pytest.approx(0.1, abs=1e-6)
    # Nearer to the neighbour 2" north: that one, even though the other has more observations.
    assert choose_target(rows, RA, DEC + 1.9 / 3600, 4.0, "kplr")["id"] == 10002793
    assert choose_target(rows, RA, DEC - 1 / 3600, 0.5, "kplr")["id"] == 10002794  # names are case-insensitive
    assert choose_target(rows, RA, DEC + 60 / 3600, 4.0, "kplr") is None
    assert choose_target(rows, RA, DEC, 4.0, "ktwo")["id"] == 211117077
    assert choose_target([_obs(None, "kplr010002792"), _obs(7, "kplr010002792", ra=None)], RA, DEC, 4.0,
                         "kplr") is None


def _product(name, description="", uri=True):
    return {"productFilename": name, "description": description, "size": 10,
            "dataURI": f"mast:KEPLER/url/missions/kepler/lightcurves/0100/010002792/{name}" if uri else ""}


def test_select_products_keeps_the_targets_lightcurves_of_the_wanted_cadences_and_quarters():
    rows = [_product("kplr010002792-2010174085026_llc.fits", "Lightcurve Long Cadence (CLC) - Q5"),
            _product("kplr010002792-2010265121752_llc.fits", "Lightcurve Long Cadence (CLC) - Q6"),
            _product("kplr010002792-2010265121752_llc.fits", "Lightcurve Long Cadence (CLC) - Q6"),
            _product("kplr010002792-2010203174610_slc.fits", "Lightcurve Short Cadence (CSC) - Q6"),
            _product("kplr010002792-2010174085026_lpd-targ.fits.gz", "Target Pixel Long Cadence (CPL) - Q5"),
            _product("kplr010002793-2010174085026_llc.fits", "Lightcurve Long Cadence (CLC) - Q5"),
            _product("kplr010002792-2011073133259_llc.fits", ""),
            _product("kplr010002792-2011177032512_llc.fits", "Q8", uri=False),
            _product("../kplr010002792-2010174085026_llc.fits", "Q5")]

    def names(cadences, quarters):
        return [r["productFilename"] for r in select_products(rows, "kplr", 10002792, cadences, quarters,
                                                              lambda row: season_from_description(row["description"]))]

    assert names(["long"], []) == ["kplr010002792-2010174085026_llc.fits", "kplr010002792-2010265121752_llc.fits",
                                   "kplr010002792-2011073133259_llc.fits"]
    # Quarter 6 only: the Q5 file goes, the one whose description tells nothing stays (its header decides).
    assert names(["long", "short"], [6]) == ["kplr010002792-2010203174610_slc.fits",
                                             "kplr010002792-2010265121752_llc.fits",
                                             "kplr010002792-2011073133259_llc.fits"]
    assert names(["short"], [5]) == []


# -- the surveys' defaults of other blocks ----------------------------------------------------------------------------

def test_download_parameters_give_detrending_and_filters():
    assert TessParameters().section_defaults() == {
        "analysis": {"detrend": "biweight", "detrend_window_days": 0.3}, "histograms": {"filters": ["TESS"]}}
    assert KeplerParameters().section_defaults() == {
        "analysis": {"detrend": "biweight", "detrend_window_days": 0.5}, "histograms": {"filters": ["Kepler"]}}
    assert K2Parameters().section_defaults()["analysis"]["detrend_window_days"] == K2_DETREND_WINDOW_DAYS == 0.5
    assert (TESS_DETREND_WINDOW_DAYS, KEPLER_DETREND_WINDOW_DAYS) == (0.3, 0.5)
    assert TessParameters(cadences=["120", "20"]).section_defaults()["histograms"]["filters"] == ["TESS", "TESS-fast"]
    assert K2Parameters(cadences=["short"]).section_defaults()["histograms"]["filters"] == ["Kepler", "Kepler-short"]


def _config(observatories=None, surveys=("tess", "kepler", "k2")):
    document = {"project": {"name": "p", "surveys": list(surveys)}, "catalog": {"path": "c.csv"},
                "observatories": observatories or {}}
    parameters = {"tess": TessParameters, "kepler": KeplerParameters, "k2": K2Parameters}
    return {s.name: s for s in build_config(document, survey_parameters=parameters).surveys}


def test_survey_defaults_rank_below_every_block_of_the_file():
    surveys = _config()
    assert [(s.analysis.detrend, s.analysis.detrend_window_days, s.histograms.filters)
            for s in surveys.values()] == [("biweight", 0.3, ["TESS"]), ("biweight", 0.5, ["Kepler"]),
                                           ("biweight", 0.5, ["Kepler"])]
    general = _config({"analysis": {"detrend_window_days": 1.0}, "kepler": {"histograms": {"filters": ["Kp"]}}})
    assert general["tess"].analysis.detrend_window_days == general["k2"].analysis.detrend_window_days == 1.0
    assert general["kepler"].histograms.filters == ["Kp"] and general["k2"].histograms.filters == ["Kepler"]
    own = _config({"analysis": {"detrend": "none"}, "k2": {"analysis": {"detrend_window_days": 2.0}}})
    assert own["tess"].analysis.detrend == "none" and own["k2"].analysis.detrend_window_days == 2.0
    # The survey's defaults are science: they enter the analysis version, so another window is another version.
    assert own["k2"].analysis_version != _config()["k2"].analysis_version
