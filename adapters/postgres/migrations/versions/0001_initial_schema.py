"""Initial schema: projects, sources, raw data, lightcurves, detections and run state.

Revision ID: 0001
Revises:
Create Date: 2025-11-23

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ra", sa.Float(), nullable=False),
        sa.Column("dec", sa.Float(), nullable=False),
        sa.Column("mag", sa.Float()),
        sa.Column("mag_err", sa.Float()),
        sa.Column("pmra", sa.Float()),
        sa.Column("pmdec", sa.Float()),
        sa.Column("parallax", sa.Float()),
        sa.UniqueConstraint("project_id", "name", name="uq_sources_project_name"),
    )
    op.create_table(
        "raw_data",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("survey", sa.Text(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("ra", sa.Float()),
        sa.Column("dec", sa.Float()),
        sa.Column("num_epochs", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("file", sa.Text()),
        sa.Column("key", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("survey", "source_name", "version", name="uq_raw_data_survey_name_version"),
    )
    op.create_table(
        "lightcurves",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("raw_data_id", sa.BigInteger(), sa.ForeignKey("raw_data.id", ondelete="SET NULL")),
        sa.Column("survey", sa.Text(), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("season", sa.Integer(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("file", sa.Text()),
        sa.Column("key", sa.Text()),
        sa.Column("num_epochs", sa.Integer()),
        sa.Column("num_good", sa.Integer()),
        sa.Column("mjd_start", sa.Float()),
        sa.Column("mjd_end", sa.Float()),
        sa.Column("flux_median", sa.Float()),
        sa.Column("flux_rms", sa.Float()),
        sa.Column("mag_median", sa.Float()),
        sa.Column("mag_rms", sa.Float()),
        sa.UniqueConstraint("source_id", "survey", "version", "filter", "season", name="uq_lightcurves_identity"),
    )
    op.create_table(
        "detections",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "lightcurve_id", sa.BigInteger(), sa.ForeignKey("lightcurves.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("peak_mjd", sa.Float(), nullable=False),
        sa.Column("start_mjd", sa.Float()),
        sa.Column("end_mjd", sa.Float()),
        sa.Column("snr", sa.Float()),
        sa.Column("peak_flux", sa.Float()),
        sa.Column("delta_mag", sa.Float()),
        sa.Column("baseline_flux", sa.Float()),
        sa.Column("num_epochs", sa.Integer()),
        sa.Column("is_simulated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("lightcurve_id", "version", "peak_mjd", "is_simulated", name="uq_detections_identity"),
    )
    op.create_index("ix_detections_source_version", "detections", ["source_id", "version"])
    op.create_table(
        "steps",
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stage", sa.Text(), primary_key=True),
        sa.Column("survey", sa.Text(), primary_key=True),
        sa.Column("version", sa.Text(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_table(
        "failures",
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stage", sa.Text(), primary_key=True),
        sa.Column("survey", sa.Text(), primary_key=True),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in ("failures", "steps", "detections", "lightcurves", "raw_data", "sources", "projects"):
        op.drop_table(table)
