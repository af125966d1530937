"""Rows of domain objects: column values as the bulk functions send them, and ids assigned back."""

from __future__ import annotations

import json
import math
from operator import itemgetter
from typing import Any, Callable, Sequence

import numpy as np
from sqlalchemy.orm.attributes import instance_state

from virtualobserver.adapters.postgres.bulk import JsonText
from virtualobserver.domain.detection import CENTROID_FIELDS
from virtualobserver.domain.rawdata import RawData

# Rows per statement: large enough to amortise round trips, small enough for modest statements.
BATCH = 1000

_SOURCE_FIELDS = ("name", "ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax", "epoch")
_RAW_FIELDS = ("survey", "source_name", "version", "ra", "dec", "num_epochs", "file", "key")
_LC_KEY = ("source_id", "survey", "version", "filter", "season")
_LC_VALUES = (
    "raw_data_id", "file", "key", "num_epochs", "num_good", "mjd_start", "mjd_end",
    "flux_median", "flux_rms", "mag_median", "mag_rms", "time_scale",
)
# injection_id is NULL for real detections; the constraint treats NULLs as equal (NULLS NOT DISTINCT).
_DET_KEY = ("lightcurve_id", "version", "peak_mjd", "is_simulated", "injection_id")
_DET_VALUES = (
    "source_id", "kind", "start_mjd", "end_mjd", "snr", "peak_flux", "delta_mag", "baseline_flux", "num_epochs",
    "filter_width", "first_epoch", "last_epoch", "quality", "peak_snr", "amplitude", "equivalent_duration",
    "equivalent_duration_err", *CENTROID_FIELDS, "stamps_file", "stamps_key",
)


_PLAIN_JSON = frozenset({str, int, bool, type(None)})


def _json_safe(value: Any) -> Any:
    """Return ``value`` with NumPy scalars and arrays made plain, and NaN or infinity made None.

    JSONB accepts neither NumPy types nor the non-standard ``NaN`` and ``Infinity`` tokens.
    """
    kind = type(value)  # plain scalars first: they are nearly every value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind in _PLAIN_JSON:
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_STR = frozenset({str})
_FLAT_JSON = frozenset({float, str, int, bool, type(None)})
# json.dumps's own settings, except that NaN and infinity raise instead of being written.
_STRICT_JSON = json.JSONEncoder(allow_nan=False)


def _json_text(value) -> JsonText:
    """Return the JSON text of ``_json_safe(dict(value or {}))``, for a JSON column.

    Most values are flat dicts of plain floats and strings (an injected event's fields, a detection's
    worst cut values), which need no conversion: one strict encoding checks and encodes them at once.
    """
    value = value if type(value) is dict else dict(value or {})
    if set(map(type, value)) <= _STR and set(map(type, value.values())) <= _FLAT_JSON:
        try:
            return JsonText(_STRICT_JSON.encode(value))
        except ValueError:  # a NaN or an infinity, which _json_safe makes null
            pass
    return JsonText(json.dumps(_json_safe(value)))


def _reader(names: Sequence[str], *, lenient: Sequence[str] = ()) -> Callable[[Any], tuple]:
    """Return a function reading attributes ``names`` of a domain object, as a tuple.

    A missing attribute reads as None if it is one of ``lenient``, and raises AttributeError otherwise.
    """
    wanted = frozenset(names)
    from_dict = itemgetter(*names)
    defaults = [(name, name in lenient) for name in names]

    def read(obj) -> tuple:
        state = obj.__dict__
        if state.keys() >= wanted:
            # Every attribute is loaded, as in any object built by __init__: the mapping's instrumented
            # attributes would return these same entries of __dict__, at several times the cost. An
            # unloaded or expired attribute (of an object loaded, or committed by an expiring session)
            # is missing from __dict__, and getattr loads it.
            return from_dict(state)
        return tuple(getattr(obj, name, None) if soft else getattr(obj, name) for name, soft in defaults)

    return read


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


# Rows are tuples in the order of their table's columns below, key columns first, so that a row's key
# is a slice of it; the bulk functions send such tuples as they are.
_DET_COLUMNS = _DET_KEY + _DET_VALUES
_LC_COLUMNS = _LC_KEY + _LC_VALUES
_SOURCE_COLUMNS = ("project_id", "healpix") + _SOURCE_FIELDS


# add_many refuses a detection without these (read strictly, as its check read them).
_DET_REQUIRED = ("source_id", "lightcurve_id", "version")
_read_detection = _reader(_DET_COLUMNS, lenient=set(_DET_COLUMNS) - {"peak_mjd", "is_simulated", *_DET_REQUIRED})
_det_required = itemgetter(*(_DET_COLUMNS.index(c) for c in _DET_REQUIRED))


def _detection_row(values: tuple) -> tuple:
    """Column values of a detection (``_DET_COLUMNS``), from ``_read_detection``, in types the driver adapts."""
    (lightcurve_id, version, peak_mjd, is_simulated, injection_id, source_id, kind, start_mjd, end_mjd, snr,
     peak_flux, delta_mag, baseline_flux, num_epochs, filter_width, first_epoch, last_epoch, quality, peak_snr,
     amplitude, equivalent_duration, equivalent_duration_err, *centroid, stamps_file, stamps_key) = values
    return (
        lightcurve_id, version, float(peak_mjd), bool(is_simulated), _optional_int(injection_id),
        source_id, kind, start_mjd, end_mjd, snr, peak_flux, delta_mag, baseline_flux,
        _optional_int(num_epochs), float(filter_width or 0.0), _optional_int(first_epoch), _optional_int(last_epoch),
        _json_text(quality), _optional_float(peak_snr), _optional_float(amplitude),
        _optional_float(equivalent_duration), _optional_float(equivalent_duration_err),
        *map(_optional_float, centroid), stamps_file, stamps_key,
    )


def _source_value(value):
    # Catalog values may be NumPy scalars, which the driver does not adapt.
    return value.item() if isinstance(value, np.generic) else value


_PLAIN_SOURCE = frozenset({float, int, str, type(None)})
_read_source = _reader(_SOURCE_FIELDS)


def _source_values(values: tuple) -> tuple:
    """Values of ``_SOURCE_FIELDS`` (from ``_read_source``) in types the driver adapts."""
    # Plain values (nearly always) are no NumPy scalars: check their types at once.
    return values if set(map(type, values)) <= _PLAIN_SOURCE else tuple(map(_source_value, values))


_read_raw = _reader(_RAW_FIELDS)


def _raw_row(raw: RawData) -> tuple:
    """Column values of a raw data record (``_RAW_FIELDS``), converted to types the driver adapts."""
    survey, source_name, version, ra, dec, num_epochs, file, key = _read_raw(raw)
    return (survey, source_name, version, _optional_float(ra), _optional_float(dec), int(num_epochs), file, key)


_read_lightcurve = _reader(_LC_COLUMNS, lenient=_LC_VALUES)


def _lightcurve_row(values: tuple) -> tuple:
    """Column values of a lightcurve record (``_LC_COLUMNS``), from ``_read_lightcurve``, in types the driver adapts."""
    (source_id, survey, version, filter_, season, raw_data_id, file, key, num_epochs, num_good, mjd_start, mjd_end,
     flux_median, flux_rms, mag_median, mag_rms, time_scale) = values
    return (
        int(source_id), survey, version, filter_, int(season),
        _optional_int(raw_data_id), file, key, _optional_int(num_epochs), _optional_int(num_good),
        _optional_float(mjd_start), _optional_float(mjd_end), _optional_float(flux_median),
        _optional_float(flux_rms), _optional_float(mag_median), _optional_float(mag_rms), time_scale,
    )


def _assign(obj, **values) -> None:
    """Set attributes of a domain object, whether it is instrumented by the mapping or not."""
    try:
        state = instance_state(obj)
    except AttributeError:  # created before start_mappers(): no ORM state
        state = None
    if state is None or state.session_id is None:
        # Created before start_mappers() (no ORM state), or in no session: its __dict__ is the only
        # storage and no session tracks its changes, so skip the instrumented attributes' events.
        obj.__dict__.update(values)
    else:
        for name, value in values.items():
            setattr(obj, name, value)


def _id_array(ids: Sequence[int]) -> str | None:
    """Return the array literal of these ints (one parameter the server parses fast), None if there are none."""
    return "{" + ",".join(map(str, ids)) + "}" if len(ids) else None
