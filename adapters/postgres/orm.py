"""Tables of the metadata database and the imperative mapping of the domain classes onto them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import column_property, registry

from virtualobserver.domain.detection import CENTROID_FIELDS, Detection
from virtualobserver.domain.injection import Injection
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.source import Source

__all__ = [
    "mapper_registry",
    "metadata",
    "projects",
    "sources",
    "raw_data",
    "lightcurves",
    "detections",
    "injections",
    "source_summaries",
    "histogram_parts",
    "steps",
    "failures",
    "archive_pace",
    "start_mappers",
    "clear_mappers",
]

mapper_registry = registry()
metadata = mapper_registry.metadata

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

sources = Table(
    "sources",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("ra", Float, nullable=False),
    Column("dec", Float, nullable=False),
    Column("mag", Float),
    Column("mag_err", Float),
    Column("pmra", Float),
    Column("pmdec", Float),
    Column("parallax", Float),
    Column("epoch", Float),
    # Nested HEALPix index at domain.healpix.INDEX_ORDER (migration 0005): cone searches read a few
    # index ranges of this btree, then test the exact distance. Not part of the domain Source.
    Column("healpix", BigInteger),
    UniqueConstraint("project_id", "name", name="uq_sources_project_name"),
    Index("ix_sources_project_healpix", "project_id", "healpix"),
)

# Raw data is shared by all projects, so it is keyed by source name, not by source id.
raw_data = Table(
    "raw_data",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("survey", Text, nullable=False),
    Column("source_name", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("ra", Float),
    Column("dec", Float),
    Column("num_epochs", Integer, nullable=False, server_default="0"),
    Column("file", Text),
    Column("key", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("survey", "source_name", "version", name="uq_raw_data_survey_name_version"),
)

lightcurves = Table(
    "lightcurves",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("raw_data_id", BigInteger, ForeignKey("raw_data.id", ondelete="SET NULL")),
    Column("survey", Text, nullable=False),
    Column("filter", Text, nullable=False),
    Column("season", Integer, nullable=False),
    Column("version", Text, nullable=False),
    Column("file", Text),
    Column("key", Text),
    Column("num_epochs", Integer),
    Column("num_good", Integer),
    Column("mjd_start", Float),
    Column("mjd_end", Float),
    Column("flux_median", Float),
    Column("flux_rms", Float),
    Column("mag_median", Float),
    Column("mag_rms", Float),
    Column("time_scale", Text, nullable=False, server_default="utc"),
    UniqueConstraint("source_id", "survey", "version", "filter", "season", name="uq_lightcurves_identity"),
)

detections = Table(
    "detections",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("lightcurve_id", BigInteger, ForeignKey("lightcurves.id", ondelete="CASCADE"), nullable=False),
    Column("version", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("peak_mjd", Float, nullable=False),
    Column("start_mjd", Float),
    Column("end_mjd", Float),
    Column("snr", Float),
    Column("peak_flux", Float),
    Column("delta_mag", Float),
    Column("baseline_flux", Float),
    Column("num_epochs", Integer),
    Column("is_simulated", Boolean, nullable=False, server_default=false()),
    Column("filter_width", Float, nullable=False, server_default="0"),
    Column("first_epoch", Integer),
    Column("last_epoch", Integer),
    Column("quality", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # Event measures (migration 0006): single-epoch S/N of the peak epoch, fractional amplitude at the peak
    # against the local baseline (negative for dips), equivalent duration and its error in seconds.
    Column("peak_snr", Float),
    Column("amplitude", Float),
    Column("equivalent_duration", Float),
    Column("equivalent_duration_err", Float),
    # Pixel vetting statistic (migration 0008): centroid shift of the event and the offset of the light
    # that changed from the target, NULL where the survey has no images of the event.
    *(Column(name, Float) for name in CENTROID_FIELDS),
    # Image stamps of the event (migration 0009): file and key in the data folder, NULL without images.
    Column("stamps_file", Text),
    Column("stamps_key", Text),
    # Set only for simulated detections: the injected event they recovered.
    Column("injection_id", BigInteger, ForeignKey("injections.id", ondelete="CASCADE")),
    # Triage by a person (migration 0004): not part of the domain Detection, read and written by the
    # triage repository with Core; upserts of the analysis never touch it, so labels survive a rerun.
    Column("label", Text),
    Column("labelled_at", DateTime(timezone=True)),
    CheckConstraint("label IS NULL OR label IN ('real', 'artifact', 'unsure')", name="ck_detections_label"),
    # NULLS NOT DISTINCT: real detections (injection_id NULL) stay unique by peak time, while
    # simulated ones of different injections may share a peak time.
    UniqueConstraint(
        "lightcurve_id", "version", "peak_mjd", "is_simulated", "injection_id",
        name="uq_detections_identity", postgresql_nulls_not_distinct=True,
    ),
    Index("ix_detections_source_version", "source_id", "version"),
    Index("ix_detections_injection", "injection_id"),
)

# The truth of simulation mode: one row per injected event, whether it was recovered or not.
injections = Table(
    "injections",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    # The reference lightcurve of the event's S/N amplitude; NULL for an event in a gap (migration 0007).
    Column("lightcurve_id", BigInteger, ForeignKey("lightcurves.id", ondelete="CASCADE")),
    Column("version", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("peak_mjd", Float, nullable=False),
    Column("start_mjd", Float, nullable=False),
    Column("end_mjd", Float, nullable=False),
    Column("amplitude", Float, nullable=False),
    Column("snr_amplitude", Float, nullable=False),
    Column("width", Float, nullable=False),
    Column("u0", Float),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recovered", Boolean, nullable=False, server_default=false()),
    # Lightcurves the event covers, those it was found in, and whether a detection of the un-injected
    # data overlapped it (migration 0007).
    Column("covered", Integer, nullable=False, server_default="1"),
    Column("found_in", Integer, nullable=False, server_default="0"),
    Column("overlaps_real", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("source_id", "version", "sequence", name="uq_injections_identity"),
    Index("ix_injections_source_version", "source_id", "version"),
)

# Summaries are dataclasses read and written with Core (no mapping).
source_summaries = Table(
    "source_summaries",
    metadata,
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("survey", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("num_lightcurves", Integer, nullable=False, server_default="0"),
    Column("num_epochs", Integer, nullable=False, server_default="0"),
    Column("num_good", Integer, nullable=False, server_default="0"),
    Column("mag_median", Float),
    Column("rms", Float),
    Column("best_snr", Float),
    Column("num_detections", Integer, nullable=False, server_default="0"),
    # The batch file of the source's per-epoch products (migration 0005); NULL in the one-file-per-source layout.
    Column("scores_file", Text),
    # Migration 0006: the strongest detection's kind and peak time (best_snr is its signed S/N), the
    # statistics of each filter, and detections a per-lightcurve cap left out.
    Column("best_kind", Text),
    Column("best_peak_mjd", Float),
    Column("per_filter", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("detections_dropped", Integer, nullable=False, server_default="0"),
)

# Which histogram files (one per committed batch, or one merged by compaction) make up a product.
histogram_parts = Table(
    "histogram_parts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("survey", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("key", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_histogram_parts_product", "project_id", "survey", "version", "kind"),
)

# Run state has no domain class: the step repository reads and writes these with Core.
steps = Table(
    "steps",
    metadata,
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("survey", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("count", Integer, nullable=False, server_default="0"),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

failures = Table(
    "failures",
    metadata,
    Column("source_id", BigInteger, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("survey", Text, primary_key=True),
    Column("version", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The next free request time of each archive service, shared by every process using this database
# (adapters/postgres/archive_limits.py, migration 0010); per database, not per project, as the archive sees one client.
archive_pace = Table(
    "archive_pace",
    metadata,
    Column("archive", Text, primary_key=True),
    Column("next_at", DateTime(timezone=True), nullable=False),
)


def start_mappers() -> None:
    """Map the domain classes onto the tables; calling it again is a no-op.

    ``Source.project`` and ``Lightcurve.source_name`` are read-only column
    properties (correlated subqueries), so loaded objects carry the names the
    domain expects while the rows store only foreign keys. Loading does not
    call ``__init__``; the domain classes tolerate missing array attributes.
    """
    if mapper_registry.mappers:
        return
    mapper_registry.map_imperatively(
        Source,
        sources,
        exclude_properties=["healpix"],
        properties={
            "project": column_property(
                select(projects.c.name)
                .where(projects.c.id == sources.c.project_id)
                .correlate_except(projects)  # queries that join projects themselves still work
                .scalar_subquery()
            ),
        },
    )
    mapper_registry.map_imperatively(RawData, raw_data)
    mapper_registry.map_imperatively(
        Lightcurve,
        lightcurves,
        properties={
            "source_name": column_property(
                select(sources.c.name)
                .where(sources.c.id == lightcurves.c.source_id)
                .correlate_except(sources)
                .scalar_subquery()
            ),
        },
    )
    mapper_registry.map_imperatively(Detection, detections, exclude_properties=["label", "labelled_at"])
    # ``Injection.detection`` stays a plain attribute (set by the Simulator, written by the
    # injection repository); loading skips __init__, so give loaded injections its default.
    mapper_registry.map_imperatively(Injection, injections, exclude_properties=["created_at"])
    if not event.contains(Injection, "load", _injection_loaded):
        event.listen(Injection, "load", _injection_loaded)
    # Configure now rather than on first use: domain objects created before mapping never
    # trigger configuration, and reading their attributes would fail until it happens.
    mapper_registry.configure()


def _injection_loaded(injection: Injection, context) -> None:
    injection.__dict__.setdefault("detection", None)


def clear_mappers() -> None:
    """Undo :func:`start_mappers`, leaving the domain classes plain again."""
    mapper_registry.dispose()
