"""Products as astropy tables with units and provenance: lightcurves, detections, sources, histograms.

Units are per column and, for flux, per survey: TESS and Kepler fluxes are in e-/s; the AB-calibrated
ground surveys' (ZTF, and the demo survey that imitates it) are exported in microjansky,
``flux_ujy = 10**(-0.4 (mag - 23.9))``, the convention of SkyPortal and sncosmo (stored fluxes are on the
reduction's zero-point scale ``10**(-0.4 (mag - FLUXZP))`` and are rescaled). Times are MJD in days on
the lightcurve's own scale, stated as the FITS time keywords do (:func:`time_frame`): ``TIMESYS``
(UTC for ground surveys, TDB for TESS and Kepler), ``TREFPOS`` (``TOPOCENTER`` or ``BARYCENTER``),
``TIMEREF`` (``LOCAL`` or ``SOLARSYSTEM``), ``TIMEUNIT`` and ``TIMEPIXR``. Metadata keys are upper case
and at most eight characters, so that FITS headers hold them exactly as the other formats do.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table
from astropy.time import Time
from astropy.timeseries import TimeSeries

from virtualobserver.domain.errors import DataError
from virtualobserver.domain.histograms import OTHER, Axis, Histograms
from virtualobserver.domain.lightcurve import LIGHTCURVE_COLUMNS, OPTIONAL_COLUMNS, Lightcurve

__all__ = ["flux_unit", "export_flux", "time_frame", "time_columns", "survey_time_scale", "skyportal_table",
           "lightcurve_table", "lightcurves_table", "to_timeseries", "rows_table",
           "detection_units", "SOURCE_UNITS", "histogram_table", "table_histograms", "HISTOGRAM_UNITS"]

#: Flux units of surveys whose flux is physical; every other survey's flux is on the zero-point scale.
FLUX_UNITS = {"tess": u.electron / u.s, "kepler": u.electron / u.s, "k2": u.electron / u.s}
#: Surveys whose magnitudes are AB: their fluxes are exported in microjansky (zero point 23.9).
AB_SURVEYS = frozenset({"ztf", "demo"})
#: AB magnitude of 1 microjansky: 2.5 log10(3631 Jy / 1 uJy).
UJY_ZERO_POINT = 23.9
#: Surveys whose times are barycentric TDB (BJD_TDB of the mission products).
TDB_SURVEYS = frozenset({"tess", "kepler", "k2"})
#: Where in the exposure a survey's time stamp falls (FITS ``TIMEPIXR``): the missions stamp mid-exposure;
#: IRSA's ZTF ``mjd`` is the exposure start (ZTF's ``obsjd`` convention), the demo survey simulates mid-exposure.
_TIMEPIXR = {"ztf": 0.0}
#: Units of the histogram axes (axes not listed are dimensionless or categorical).
HISTOGRAM_UNITS = {"mag": u.mag, "exptime": u.s, "limiting_mag": u.mag, "width": u.d}
#: Units of the source table's columns.
SOURCE_UNITS = {"ra": u.deg, "dec": u.deg, "mag": u.mag, "mag_err": u.mag, "pmra": u.mas / u.yr,
                "pmdec": u.mas / u.yr, "parallax": u.mas, "mag_median": u.mag, "best_peak_mjd": u.d}


def flux_unit(survey: str) -> u.UnitBase | None:
    """Return the unit of a survey's flux, or None for fluxes on the zero-point scale.

    Parameters
    ----------
    survey : str
        Survey name.

    Returns
    -------
    astropy.units.UnitBase or None
        ``electron / s`` for TESS; None (dimensionless: ``10**(-0.4 (mag - FLUXZP))``) otherwise.
    """
    return FLUX_UNITS.get(survey)


def export_flux(survey: str, zero_point: float | None) -> tuple[u.UnitBase | None, float]:
    """Return the unit of a survey's exported flux and the factor from its stored flux.

    Parameters
    ----------
    survey : str
        Survey name.
    zero_point : float or None
        Zero point of the stored flux, ``flux = 10**(-0.4 (mag - zero_point))``, for surveys without
        a physical flux unit (None: unknown, the flux is exported as stored).

    Returns
    -------
    tuple
        ``(unit, factor)``: ``electron / s`` and 1 for TESS and Kepler; ``uJy`` and
        ``10**(-0.4 (zero_point - 23.9))`` for AB surveys; ``(None, 1.0)`` otherwise.
    """
    physical = flux_unit(survey)
    if physical is not None:
        return physical, 1.0
    if survey in AB_SURVEYS and zero_point is not None:
        return u.uJy, float(10.0 ** (-0.4 * (float(zero_point) - UJY_ZERO_POINT)))
    return None, 1.0


def survey_time_scale(survey: str) -> str:
    """Return the time scale of a survey's times: ``tdb`` for the space missions, ``utc`` otherwise."""
    return "tdb" if survey in TDB_SURVEYS else "utc"


def time_frame(scale: str, survey: str) -> dict:
    """Return the FITS time keywords (time-coordinate frame) of a survey's times on ``scale``.

    Parameters
    ----------
    scale : str
        ``utc`` or ``tdb``.
    survey : str
        Survey name (it sets ``TIMEPIXR``).

    Returns
    -------
    dict
        ``TIMESYS``, ``TIMEREF`` and ``TREFPOS`` (``SOLARSYSTEM``/``BARYCENTER`` for TDB times, which the
        missions correct to the solar-system barycentre; ``LOCAL``/``TOPOCENTER`` for ground-survey UTC
        times, as observed), ``TIMEUNIT`` (``d``) and ``TIMEPIXR`` (0.5: mid-exposure; 0: start).
    """
    barycentric = scale.lower() == "tdb"
    return {"TIMESYS": scale.upper(), "TIMEREF": "SOLARSYSTEM" if barycentric else "LOCAL",
            "TREFPOS": "BARYCENTER" if barycentric else "TOPOCENTER", "TIMEUNIT": "d",
            "TIMEPIXR": _TIMEPIXR.get(survey, 0.5)}


def time_columns(table: Table) -> list[str]:
    """Return the names of a table's time columns: ``mjd`` and ``*_mjd`` in days (not durations)."""
    return [name for name in table.colnames
            if (name == "mjd" or name.endswith("_mjd")) and table[name].unit == u.d]


def _lightcurve_units(survey: str, flux: u.UnitBase | None = None) -> dict[str, u.UnitBase | None]:
    return {"mjd": u.d, "flux": flux, "fluxerr": flux, "mag": u.mag, "magerr": u.mag, "flag": None,
            "exptime": u.s, "ra": u.deg, "dec": u.deg, "limiting_mag": u.mag, "chi": None, "sharp": None}


def _lightcurve_descriptions(scale: str, survey: str, flux_unit_: u.UnitBase | None = None) -> dict[str, str]:
    if flux_unit_ == u.uJy:
        flux = "flux density in microjansky, 10**(-0.4 (mag - 23.9)) for AB magnitudes"
    elif flux_unit_ is not None:
        flux = "flux"
    else:
        flux = "flux on the zero-point scale, 10**(-0.4 (mag - FLUXZP))"
    where = "barycentric" if scale.lower() == "tdb" else "as observed"
    return {"mjd": f"Modified Julian Date of the epoch, {scale.upper()} time scale, {where}",
            "flux": flux[0].upper() + flux[1:], "fluxerr": f"One-sigma uncertainty of the {flux.split(',')[0]}",
            "mag": "Magnitude", "magerr": "One-sigma magnitude uncertainty",
            "flag": "Survey quality flags; non-zero marks an epoch the survey flagged bad (kept, not searched)",
            "exptime": "Exposure time", "ra": "Right ascension of the epoch's detection (ICRS)",
            "dec": "Declination of the epoch's detection (ICRS)", "limiting_mag": "Limiting magnitude of the epoch",
            "chi": "PSF-fit chi", "sharp": "PSF-fit sharpness"}


def lightcurve_table(lightcurve: Lightcurve, meta: Mapping | None = None) -> Table:
    """Return one loaded lightcurve as a table with units (its identity in the metadata).

    Parameters
    ----------
    lightcurve : Lightcurve
        With arrays loaded.
    meta : mapping, optional
        Provenance (see ``Products.provenance``), added to the table's metadata.

    Returns
    -------
    astropy.table.Table
        Columns of :data:`~domain.lightcurve.LIGHTCURVE_COLUMNS` and any optional columns present;
        metadata ``OBJECT``, ``SURVEY``, ``FILTER``, ``SEASON``, the time keywords of :func:`time_frame`,
        ``REDVER``, ``MAGSYS`` (``AB`` for fluxes in microjansky) and ``meta``. Fluxes are converted as
        :func:`export_flux` says, with the zero point ``meta["FLUXZP"]`` (none: as stored).
    """
    meta = dict(meta or {})
    columns = lightcurve.columns
    names = [*LIGHTCURVE_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in columns)]
    flux, factor = export_flux(lightcurve.survey, meta.get("FLUXZP"))
    units = _lightcurve_units(lightcurve.survey, flux)
    descriptions = _lightcurve_descriptions(lightcurve.time_scale, lightcurve.survey, flux)
    data = [np.asarray(columns[n], dtype=np.float64) * factor if n in ("flux", "fluxerr") and factor != 1.0
            else columns[n] for n in names]
    table = Table(data, names=names, units=[units[n] for n in names],
                  descriptions=[descriptions[n] for n in names], copy=True)
    table.meta.update(meta)
    table.meta.update({"OBJECT": lightcurve.source_name or "", "SURVEY": lightcurve.survey,
                       "FILTER": lightcurve.filter, "SEASON": lightcurve.season,
                       **time_frame(lightcurve.time_scale, lightcurve.survey), "REDVER": lightcurve.version or ""})
    if flux == u.uJy:  # FLUXZP names the zero point of the fluxes written, not of those stored
        table.meta.update(FLUXZP=UJY_ZERO_POINT, MAGSYS="AB")
    return table


def lightcurves_table(lightcurves: Iterable[Lightcurve], meta: Mapping | None = None) -> Table:
    """Return many loaded lightcurves of one survey as one long table (one row per epoch).

    Parameters
    ----------
    lightcurves : iterable of Lightcurve
        With arrays loaded, all of one survey and one time scale.
    meta : mapping, optional
        Provenance added to the metadata (with the keywords of :func:`time_frame`); its ``FLUXZP``
        converts the fluxes as :func:`export_flux` says.

    Returns
    -------
    astropy.table.Table
        ``source``, ``filter``, ``season``, then the lightcurve columns (optional ones NaN where absent).

    Raises
    ------
    DataError
        If the lightcurves are of several surveys or time scales (their units or times would differ).
    """
    lightcurves = list(lightcurves)
    surveys = {lc.survey for lc in lightcurves}
    scales = {lc.time_scale for lc in lightcurves}
    if len(surveys) > 1 or len(scales) > 1:
        raise DataError(f"cannot put lightcurves of several surveys {sorted(surveys)} or time scales "
                        f"{sorted(scales)} in one table: export one survey at a time")
    survey = surveys.pop() if surveys else ""
    scale = scales.pop() if scales else "utc"
    optional = [c for c in OPTIONAL_COLUMNS if any(c in lc.columns for lc in lightcurves)]
    names = [*LIGHTCURVE_COLUMNS, *optional]
    sizes = [lc.num_epochs for lc in lightcurves]
    data = {
        "source": np.repeat(np.array([lc.source_name or "" for lc in lightcurves], dtype=str), sizes),
        "filter": np.repeat(np.array([lc.filter for lc in lightcurves], dtype=str), sizes),
        "season": np.repeat(np.array([lc.season for lc in lightcurves], dtype=np.int64), sizes),
    }
    meta = dict(meta or {})
    flux, factor = export_flux(survey, meta.get("FLUXZP"))
    for name in names:
        parts = [lc.columns[name] if name in lc.columns else np.full(lc.num_epochs, np.nan) for lc in lightcurves]
        dtype = np.int64 if name == "flag" else np.float64
        data[name] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        if name in ("flux", "fluxerr") and factor != 1.0:
            data[name] = data[name] * factor
    units = {"source": None, "filter": None, "season": None, **_lightcurve_units(survey, flux)}
    descriptions = {"source": "Source name", "filter": "Filter", "season": "Season (or sector) index in the filter",
                    **_lightcurve_descriptions(scale, survey, flux)}
    table = Table(data, units={n: units[n] for n in data if units[n] is not None},
                  descriptions={n: descriptions[n] for n in data})
    table.meta.update(meta)
    table.meta.update(time_frame(scale, survey))
    if flux == u.uJy:  # FLUXZP names the zero point of the fluxes written, not of those stored
        table.meta.update(FLUXZP=UJY_ZERO_POINT, MAGSYS="AB")
    return table


def to_timeseries(lightcurve: Lightcurve, meta: Mapping | None = None) -> TimeSeries:
    """Return a loaded lightcurve as an astropy ``TimeSeries`` on its own time scale.

    Parameters
    ----------
    lightcurve : Lightcurve
        With arrays loaded.
    meta : mapping, optional
        Provenance added to the metadata.

    Returns
    -------
    astropy.timeseries.TimeSeries
        ``time`` (MJD on ``lightcurve.time_scale``: UTC or TDB) and the other columns with units.

    Examples
    --------
    >>> from tests.factories import flat_lightcurve  # doctest: +SKIP
    >>> to_timeseries(flat_lightcurve()).time.scale   # doctest: +SKIP
    'utc'
    """
    table = lightcurve_table(lightcurve, meta)
    time = Time(table["mjd"].value, format="mjd", scale=lightcurve.time_scale)
    table.remove_column("mjd")
    series = TimeSeries(time=time, data=table)
    series.meta.update(table.meta)
    return series


def detection_units(survey: str, zero_point: float | None = None) -> dict[str, u.UnitBase]:
    """Return the units of the detection table's columns for a survey.

    Parameters
    ----------
    survey : str
        Survey name (it sets the flux unit).
    zero_point : float, optional
        Zero point of the stored fluxes (see :func:`export_flux`): with it, AB surveys' fluxes are in uJy.

    Returns
    -------
    dict
        Column name -> unit (columns not listed are dimensionless, counts or text).
    """
    units = {name: u.d for name in ("peak_mjd", "start_mjd", "end_mjd", "filter_width")}
    units.update({"delta_mag": u.mag, "quality_limiting_mag": u.mag})
    flux, _ = export_flux(survey, zero_point)
    if flux is not None:
        units.update({"peak_flux": flux, "baseline_flux": flux})
    return units


def rows_table(rows: Sequence[Mapping], units: Mapping[str, u.UnitBase] | None = None,
               meta: Mapping | None = None, columns: Sequence[str] | None = None) -> Table:
    """Return rows (dicts) as a table with one type per column and units where given.

    None becomes NaN in float columns, an empty string in text columns and a masked value in
    integer columns, so every format can hold the table.

    Parameters
    ----------
    rows : sequence of mapping
        Rows; the first one's keys (or ``columns``) are the columns.
    units : mapping, optional
        Column -> unit.
    meta : mapping, optional
        Table metadata.
    columns : sequence of str, optional
        Column names (for an empty table).

    Returns
    -------
    astropy.table.Table
        The table.
    """
    names = list(columns if columns is not None else (rows[0] if rows else []))
    units = units or {}
    table = Table(meta=dict(meta or {}))
    for name in names:
        table[name] = _column([row.get(name) for row in rows], name)
        if units.get(name) is not None:
            table[name].unit = units[name]
    return table


def _column(values: list, name: str):
    present = [v for v in values if v is not None]
    if not present or all(isinstance(v, str) for v in present):
        return np.array(["" if v is None else v for v in values], dtype=str)
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return MaskedColumn(np.array([bool(v) for v in values]), mask=[v is None for v in values], name=name) \
            if len(present) < len(values) else np.array(values, dtype=bool)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=np.int64)
        return MaskedColumn(np.array([0 if v is None else v for v in values], dtype=np.int64),
                            mask=[v is None for v in values], name=name)
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return np.array(["" if v is None else str(v) for v in values], dtype=str)


def histogram_table(histograms: Histograms, name: str, meta: Mapping | None = None) -> Table:
    """Return histograms as a table with one row per bin (flow bins included), counts per variable.

    Numeric axes give ``<axis>_lower`` and ``<axis>_upper`` columns (the underflow bin's lower bound
    is -inf, the overflow's upper is +inf, the NaN bin's bounds are NaN); categorical axes give a text
    column whose last category is ``other``. An efficiency map (variables ``injected`` and
    ``recovered``) also gets ``efficiency`` = recovered / injected (NaN where nothing was injected).
    :func:`table_histograms` rebuilds the histograms from the table.

    Parameters
    ----------
    histograms : Histograms
        The merged histograms.
    name : str
        Histogram name (``scanned``, ``cut_offset``, ..., ``efficiency``).
    meta : mapping, optional
        Provenance added to the metadata (with ``HISTNAME``, ``HAXES`` and ``HVARS``).

    Returns
    -------
    astropy.table.Table
        One row per bin, in C order of the axes.
    """
    axes = histograms.axes
    index = np.indices(histograms.shape).reshape(len(axes), -1)
    table = Table(meta=dict(meta or {}))
    for position, (axis_name, axis) in enumerate(axes.items()):
        coords = axis.coords(axis_name)
        if axis.is_numeric:
            for bound in ("lower", "upper"):
                values = np.asarray(coords[f"{axis_name}_{bound}"][1], dtype=np.float64)[index[position]]
                table[f"{axis_name}_{bound}"] = values
                if axis_name in HISTOGRAM_UNITS:
                    table[f"{axis_name}_{bound}"].unit = HISTOGRAM_UNITS[axis_name]
        else:
            table[axis_name] = np.asarray(coords[axis_name][1], dtype=str)[index[position]]
    for variable in histograms.variables:
        table[variable] = histograms[variable].values.reshape(-1).astype(np.int64)
    if {"injected", "recovered"} <= set(histograms.variables):
        ratio = np.full(len(table), np.nan)
        np.divide(table["recovered"], table["injected"], out=ratio, where=np.asarray(table["injected"]) > 0)
        table["efficiency"] = ratio
    table.meta.update({"HISTNAME": name, "HAXES": ",".join(axes), "HVARS": ",".join(histograms.variables)})
    return table


def table_histograms(table: Table) -> Histograms:
    """Rebuild histograms from :func:`histogram_table` output (e.g. read back from a file).

    Parameters
    ----------
    table : astropy.table.Table
        With ``HAXES`` and ``HVARS`` in its metadata.

    Returns
    -------
    Histograms
        Equal to the histograms the table was made from.

    Raises
    ------
    DataError
        If the metadata or columns do not describe histograms.
    """
    try:
        axis_names = str(table.meta["HAXES"]).split(",")
        variables = str(table.meta["HVARS"]).split(",")
    except KeyError as exc:
        raise DataError(f"not a histogram table: no {exc.args[0]} in its metadata") from None
    axes = {}
    for name in axis_names:
        if f"{name}_upper" in table.colnames:
            upper = np.asarray(table[f"{name}_upper"], dtype=float)
            axes[name] = Axis(edges=tuple(np.unique(upper[np.isfinite(upper)])))
        elif name in table.colnames:
            labels = list(dict.fromkeys(str(v) for v in table[name]))
            axes[name] = Axis(categories=tuple(v for v in labels if v != OTHER))
        else:
            raise DataError(f"not a histogram table: no column for axis {name!r}")
    histograms = Histograms(axes, variables)
    if len(table) != int(np.prod(histograms.shape)):
        raise DataError(f"histogram table has {len(table)} rows, expected {int(np.prod(histograms.shape))}")
    rebuilt = {v: np.asarray(table[v], dtype=np.int64).reshape(histograms.shape) for v in variables}
    for variable, counts in rebuilt.items():
        # fill() adds per-bin counts as weights at each bin's own index (one value per bin).
        values = {name: _bin_values(axis, name, table) for name, axis in axes.items()}
        histograms.fill(variable, weights=counts.reshape(-1), **values)
    return histograms


def _bin_values(axis: Axis, name: str, table: Table) -> np.ndarray:
    # A value that lands in each row's own bin: the bin's lower bound (its upper bound for the
    # underflow bin, NaN for the NaN bin), or the category itself.
    if not axis.is_numeric:
        return np.asarray(table[name], dtype=str)
    lower = np.asarray(table[f"{name}_lower"], dtype=float)
    upper = np.asarray(table[f"{name}_upper"], dtype=float)
    return np.where(np.isneginf(lower), upper - 1.0, lower)


#: sncosmo bandpass names of each survey's filters (SkyPortal's ``filter``); the demo survey imitates ZTF.
_SNCOSMO_FILTERS = {"ztf": {"g": "ztfg", "r": "ztfr", "i": "ztfi", "zg": "ztfg", "zr": "ztfr", "zi": "ztfi"}}
_SNCOSMO_FILTERS["demo"] = _SNCOSMO_FILTERS["ztf"]
#: Bandpass and magnitude system of the missions, whatever the filter is called: TESS magnitudes are
#: Vega-normalised (the TIC's T), Kepler's Kp is on the AB-based KIC scale.
_MISSION_BANDS = {"tess": ("tess", "vega"), "kepler": ("kepler", "ab"), "k2": ("kepler", "ab")}


def skyportal_table(lightcurves: Table) -> Table:
    """Return lightcurves as a SkyPortal photometry table (one row per finite-flux epoch).

    Parameters
    ----------
    lightcurves : astropy.table.Table
        From :func:`lightcurves_table` (``source``, ``filter``, ``mjd``, ``flux``, ``fluxerr``, ``mag``;
        fluxes in uJy for AB surveys, e-/s for the missions; ``SURVEY`` and ``REDVER`` in the metadata).

    Returns
    -------
    astropy.table.Table
        ``obj_id``, ``mjd`` (as stored, on ``TIMESYS``), ``flux``, ``fluxerr``, ``zp``, ``magsys``,
        ``filter`` (sncosmo names: ``ztfg``, ``ztfr``, ``ztfi``, ``tess``, ``kepler``) and ``origin``,
        so that ``mag = zp - 2.5 log10(flux)`` on ``magsys``: zp 23.9 (AB) for fluxes in uJy, the
        survey's own zero point (median of ``mag + 2.5 log10(flux)``) for fluxes in e-/s.

    Raises
    ------
    DataError
        For a survey with no SkyPortal filter names, or fluxes with no physical unit.
    """
    survey = str(lightcurves.meta.get("SURVEY", ""))
    unit = lightcurves["flux"].unit
    flux = np.asarray(lightcurves["flux"], dtype=np.float64)
    mag = np.asarray(lightcurves["mag"], dtype=np.float64)
    if survey in _MISSION_BANDS:
        band, magsys = _MISSION_BANDS[survey]
        filters = np.full(len(lightcurves), band)
        with np.errstate(divide="ignore", invalid="ignore"):
            zero_points = mag + 2.5 * np.log10(flux)
        zp = float(np.nanmedian(zero_points[np.isfinite(zero_points)])) if np.isfinite(zero_points).any() else np.nan
    elif survey in _SNCOSMO_FILTERS and unit == u.uJy:
        names = _SNCOSMO_FILTERS[survey]
        unknown = sorted({str(f) for f in lightcurves["filter"]} - set(names))
        if unknown:
            raise DataError(f"SkyPortal export of {survey}: no sncosmo name for filter(s) {', '.join(unknown)}")
        filters = np.array([names[str(f)] for f in lightcurves["filter"]], dtype=str)
        magsys, zp = "ab", UJY_ZERO_POINT
    else:
        raise DataError(f"SkyPortal export: survey {survey!r} has no sncosmo filter names or no flux unit "
                        "(ztf, demo, tess, kepler and k2 have)")
    keep = np.isfinite(flux)
    origin = f"virtualobserver {survey} {lightcurves.meta.get('REDVER', '')}".strip()
    table = Table({"obj_id": np.asarray(lightcurves["source"], dtype=str)[keep],
                   "mjd": np.asarray(lightcurves["mjd"], dtype=np.float64)[keep], "flux": flux[keep],
                   "fluxerr": np.asarray(lightcurves["fluxerr"], dtype=np.float64)[keep],
                   "zp": np.full(keep.sum(), zp), "magsys": np.full(keep.sum(), magsys),
                   "filter": filters[keep], "origin": np.full(keep.sum(), origin)})
    table.meta.update({k: v for k, v in lightcurves.meta.items()})
    return table
