"""Raw photometry of one target from one survey, as the survey delivered it."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from virtualobserver.domain.errors import DataError

__all__ = ["RawData"]


class RawData:
    """Epoch table of one target from one survey.

    Raw data is shared by every project: it is identified by survey, source
    name and the version of the download parameters, not by project.

    Parameters
    ----------
    survey : str
        Survey name (``"demo"``, ``"ztf"``, ...).
    source_name : str
        Name of the target it was downloaded for.
    version : str
        Hash of the download parameters.
    columns : mapping of str to array_like
        Equal-length columns of the survey's own table.
    ra, dec : float
        Position the data was requested for.
    meta : mapping, optional
        JSON-serialisable metadata of the answer (query, file headers, object ids).
    images : mapping of str to array_like, optional
        Arrays that are not epoch columns (e.g. a TESS aperture mask per sector).
    """

    id: int | None
    survey: str
    source_name: str
    version: str
    ra: float
    dec: float
    file: str | None
    key: str | None
    num_epochs: int
    meta: dict
    images: dict[str, np.ndarray]
    _columns: dict[str, np.ndarray] | None

    def __init__(
        self,
        survey: str,
        source_name: str,
        version: str,
        columns: Mapping[str, np.ndarray] | None = None,
        ra: float = float("nan"),
        dec: float = float("nan"),
        meta: Mapping | None = None,
        images: Mapping[str, np.ndarray] | None = None,
    ):
        values = dict(id=None, survey=survey, source_name=source_name, version=version, ra=float(ra),
                      dec=float(dec), file=None, key=None, meta=dict(meta or {}),
                      images={k: np.asarray(v) for k, v in images.items()} if images else {})
        values["_columns"], values["num_epochs"] = (None, 0) if columns is None else self._checked(
            columns, source_name)
        # One update of __dict__ rather than an assignment per attribute: once the ORM maps the class,
        # every assignment is an attribute event, and a new record has no session to track them (the
        # repository inserts rows itself). Later assignments, as by the columns setter, stay events.
        self.__dict__.update(values)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The epoch table; loaded lazily by the data store for persisted records."""
        if getattr(self, "_columns", None) is None:
            raise DataError(f"raw data of {self.source_name!r} ({self.survey}) is not loaded")
        return self._columns

    @columns.setter
    def columns(self, columns: Mapping[str, np.ndarray]) -> None:
        self._columns, self.num_epochs = self._checked(columns, self.source_name)

    @staticmethod
    def _checked(columns: Mapping[str, np.ndarray], source_name: str) -> tuple[dict[str, np.ndarray], int]:
        """Return the columns as arrays and their common length, or raise if the lengths differ."""
        arrays = {name: np.asarray(values) for name, values in columns.items()}
        sizes = {len(a) for a in arrays.values()}
        if len(sizes) > 1:
            lengths = {name: len(a) for name, a in arrays.items()}
            raise DataError(f"raw data of {source_name!r}: columns differ in length {lengths}")
        return arrays, sizes.pop() if sizes else 0

    @property
    def is_loaded(self) -> bool:
        """Whether the arrays are in memory."""
        return getattr(self, "_columns", None) is not None

    def __repr__(self) -> str:
        return f"RawData({self.survey!r}, {self.source_name!r}, epochs={self.num_epochs})"
