"""Products as single tables to export: the table-making half of :class:`~services.products.Products`."""

from __future__ import annotations

from typing import Iterator, Sequence

import astropy.units as u
from astropy.table import Table

from virtualobserver.domain.config import SurveyConfig
from virtualobserver.domain.errors import DataError
from virtualobserver.services.export import injection_rows
from virtualobserver.services.stamps import StampedDetection, stamped_detections
from virtualobserver.services.product_tables import (
    SOURCE_UNITS,
    UJY_ZERO_POINT,
    detection_units,
    export_flux,
    histogram_table,
    lightcurve_table,
    lightcurves_table,
    rows_table,
    survey_time_scale,
    time_frame,
)

__all__ = ["ProductTables", "PRODUCTS", "refuse_source_filters"]

#: What can be exported, by name.
PRODUCTS = ("lightcurves", "detections", "sources", "histograms", "injections")
_DETECTION_FIELDS = ("kind", "peak_mjd", "start_mjd", "end_mjd", "snr", "peak_flux", "delta_mag", "baseline_flux",
                     "num_epochs", "filter_width", "first_epoch", "last_epoch")
_SOURCE_FIELDS = ("ra", "dec", "mag", "mag_err", "pmra", "pmdec", "parallax", "epoch")
_SUMMARY_FIELDS = ("num_lightcurves", "num_epochs", "num_good", "mag_median", "rms", "best_snr", "best_kind",
                   "best_peak_mjd", "num_detections", "detections_dropped")


def refuse_source_filters(names: Sequence[str] | None, limit: int | None) -> None:
    """Refuse source filters for histograms, which count the whole project (rather than ignore them).

    Raises
    ------
    DataError
        If ``names`` or ``limit`` is given.
    """
    if names is not None or limit is not None:
        raise DataError("histograms count the whole project: --source and --limit do not apply to them")


class ProductTables:
    """Tables of a :class:`~services.products.Products`, each with units and provenance metadata.

    Parameters
    ----------
    products : Products
        What the tables are made of: its ``name``, ``survey()``, ``sources()``, ``load()``, ``summaries()``,
        ``histograms()``, ``provenance()``, ``store`` and ``uow_factory``.
    """

    def __init__(self, products):
        # Not annotated: services.products imports this module, and an import back would close a circle.
        self._products = products

    def lightcurve_tables(self, survey: str | None = None, *, names: Sequence[str] | None = None,
                          limit: int | None = None) -> Iterator[Table]:
        """Yield one table per lightcurve (loaded one source at a time), for one-table-per-lightcurve files.

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the project's first).
        names : sequence of str, optional
            Only these sources.
        limit : int, optional
            At most this many sources.

        Yields
        ------
        astropy.table.Table
            See :func:`~services.product_tables.lightcurve_table`; also ``RA_OBJ``/``DEC_OBJ``.
        """
        self._check_names(names)
        meta = self._products.provenance(survey, product="lightcurve")
        for item in self._products.sources(survey, names=names, limit=limit):
            for lc in self._products.load(item.lightcurves):
                yield lightcurve_table(lc, {**meta, "RA_OBJ": item.source.ra, "DEC_OBJ": item.source.dec})

    def stamps(self, survey: str | None = None, *, names: Sequence[str] | None = None,
               limit: int | None = None) -> Iterator[StampedDetection]:
        """Yield the real detections that have image stamps, with the stamps read (one source at a time).

        Parameters
        ----------
        survey : str, optional
            Survey name (default: the project's first).
        names : sequence of str, optional
            Only these sources (an unknown name is an error).
        limit : int, optional
            At most this many sources (by name).

        Yields
        ------
        StampedDetection
            Source, survey, filter, season, detection and stamps.
        """
        self._check_names(names)
        products = self._products
        yield from stamped_detections(products.sources(survey, names=names, limit=limit), products.store)

    def table(self, what: str, survey: str | None = None, *, simulated: bool = False,
              names: Sequence[str] | None = None, limit: int | None = None, histogram: str | None = None) -> Table:
        """Return one product as a single table with units and provenance.

        Parameters
        ----------
        what : str
            ``lightcurves`` (one row per epoch), ``detections`` (with ``label``), ``sources`` (catalog
            properties and analysis summary), ``histograms`` (one row per bin) or ``injections``.
        survey : str, optional
            Survey name (default: the project's first).
        simulated : bool
            Detections: add the simulated ones (``is_simulated``). Histograms: the efficiency map by default.
        names : sequence of str, optional
            Only these sources (every product but histograms, which count the whole project).
        limit : int, optional
            At most this many sources, the first by name (every product but histograms).
        histogram : str, optional
            Which histogram (default ``scanned``, or ``efficiency`` with ``simulated``).

        Returns
        -------
        astropy.table.Table
            Metadata from :meth:`provenance`.

        Raises
        ------
        DataError
            For an unknown product or source name, source filters given for histograms, or a histogram
            nothing was counted in.
        """
        config = self._products.survey(survey)
        self._check_names(names)
        if what == "histograms":
            refuse_source_filters(names, limit)
        if what == "lightcurves":
            meta = self._products.provenance(config.name, product=what)
            lightcurves = [lc for item in self._products.sources(config.name, names=names, limit=limit)
                           for lc in self._products.load(item.lightcurves)]
            return lightcurves_table(lightcurves, meta)
        if what == "detections":
            return self._detections_table(config, simulated, names, limit)
        if what == "sources":
            return self._sources_table(config, names, limit)
        if what == "histograms":
            name = histogram or ("efficiency" if simulated else "scanned")
            found = self._products.histograms(name, config.name)
            if found is None:
                raise DataError(f"no histogram {name!r} at the current version of {config.name} "
                                "(run, or simulate, first)")
            return histogram_table(found, name, self._products.provenance(config.name, product=what,
                                                                simulated=name == "efficiency"))
        if what == "injections":
            return self._injections_table(config, names, limit)
        raise DataError(f"cannot export {what!r}; choose one of {', '.join(PRODUCTS)}")

    def _detections_table(self, config: SurveyConfig, simulated: bool, names, limit) -> Table:
        rows = []
        scales = set()
        for item in self._products.sources(config.name, names=names, limit=limit, include_simulated=simulated):
            by_id = {lc.id: lc for lc in item.lightcurves}
            for row in item.detections:
                d = row.detection
                lc = by_id.get(d.lightcurve_id)
                scales.add(lc.time_scale if lc else survey_time_scale(config.name))
                rows.append({"source": row.source, "survey": row.survey, "filter": row.filter, "season": row.season,
                             "id": d.id, **{f: getattr(d, f) for f in _DETECTION_FIELDS},
                             **{f"quality_{cut}": value for cut, value in sorted(d.quality.items())},
                             "is_simulated": d.is_simulated, "label": row.label or "", "version": d.version,
                             "file": lc.file if lc else None, "key": lc.key if lc else None})
        columns = list(dict.fromkeys(k for row in rows for k in row)) if rows else \
            ["source", "survey", "filter", "season", "id", *_DETECTION_FIELDS, "is_simulated", "label", "version",
             "file", "key"]
        scale = scales.pop() if len(scales) == 1 else survey_time_scale(config.name)
        meta = {**self._products.provenance(config.name, product="detections", simulated=simulated),
                **time_frame(scale, config.name)}
        zero_point = meta.get("FLUXZP")
        _, factor = export_flux(config.name, zero_point)
        for row in rows:  # the detection's fluxes in the lightcurves' exported unit
            for name in ("peak_flux", "baseline_flux"):
                if row.get(name) is not None:
                    row[name] = row[name] * factor
        units = detection_units(config.name, zero_point)
        if units.get("peak_flux") == u.uJy:  # FLUXZP names the zero point of the fluxes written
            meta.update(FLUXZP=UJY_ZERO_POINT, MAGSYS="AB")
        return rows_table(rows, units, meta, columns)

    def _sources_table(self, config: SurveyConfig, names, limit) -> Table:
        summaries = self._products.summaries(config.name)
        rows = []
        for item in self._products.sources(config.name, names=names, limit=limit):
            summary = summaries.get(item.source.name)
            rows.append({"source": item.source.name, **{f: getattr(item.source, f) for f in _SOURCE_FIELDS},
                         **{f: getattr(summary, f) if summary else None for f in _SUMMARY_FIELDS},
                         "analysed": summary is not None})
        columns = ["source", *_SOURCE_FIELDS, *_SUMMARY_FIELDS, "analysed"]
        meta = {**self._products.provenance(config.name, product="sources"),
                **time_frame(survey_time_scale(config.name), config.name)}
        return rows_table(rows, SOURCE_UNITS, meta, columns)

    def _check_names(self, names: Sequence[str] | None) -> None:
        # An unknown name would otherwise export an empty table and look like "no products".
        if names is None:
            return
        with self._products.uow_factory() as uow:
            found = uow.sources.get_many(self._products.name, sorted(set(names)))
        missing = sorted(set(names) - set(found))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise DataError(f"no source named {shown} in project {self._products.name}")

    def _injections_table(self, config: SurveyConfig, names, limit) -> Table:
        with self._products.uow_factory() as uow:
            rows = injection_rows(uow, self._products.name, config)
        if names is not None or limit is not None:
            # The sources ``sources(names=, limit=)`` would give, by name only (their products are not needed).
            if names is not None:
                chosen = set(sorted(set(names))[:limit])  # every name exists: checked by table()
            else:
                with self._products.uow_factory() as uow:
                    chosen = {source.name for source in uow.sources.list(self._products.name, limit=limit)}
            rows = [row for row in rows if row["source"] in chosen]
        units = {"peak_mjd": "d", "start_mjd": "d", "end_mjd": "d", "width": "d"}
        columns = list(rows[0]) if rows else ["source", "survey", "filter", "season", "sequence", "kind",
                                              "peak_mjd", "start_mjd", "end_mjd", "amplitude", "snr_amplitude",
                                              "width", "u0", "recovered"]
        meta = {**self._products.provenance(config.name, product="injections", simulated=True),
                **time_frame(survey_time_scale(config.name), config.name)}
        return rows_table(rows, units, meta, columns)
