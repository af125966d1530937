"""Raw photometry of one target from one survey, as the survey delivered it."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from domain.errors import DataError

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
        self.id: int | None = None
        self.survey = survey
        self.source_name = source_name
        self.version = version
        self.ra = float(ra)
        self.dec = float(dec)
        self.file: str | None = None
        self.key: str | None = None
        self._columns: dict[str, np.ndarray] | None = None
        self.num_epochs = 0
        self.meta: dict = dict(meta or {})
        self.images: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in (images or {}).items()}
        if columns is not None:
            self.columns = columns

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The epoch table; loaded lazily by the data store for persisted records."""
        if getattr(self, "_columns", None) is None:
            raise DataError(f"raw data of {self.source_name!r} ({self.survey}) is not loaded")
        return self._columns

    @columns.setter
    def columns(self, columns: Mapping[str, np.ndarray]) -> None:
        arrays = {name: np.asarray(values) for name, values in columns.items()}
        lengths = {name: len(a) for name, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"raw data of {self.source_name!r}: columns differ in length {lengths}")
        self._columns = arrays
        self.num_epochs = next(iter(lengths.values()), 0)

    @property
    def is_loaded(self) -> bool:
        """Whether the arrays are in memory."""
        return getattr(self, "_columns", None) is not None

    def __repr__(self) -> str:
        return f"RawData({self.survey!r}, {self.source_name!r}, epochs={self.num_epochs})"
