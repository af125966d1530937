"""Science core: injections, source summaries, histogram parts, and richer detections.

Detections gain the matched-filter width, the epoch range of the event, the worst value of
each quality cut (JSONB) and, for simulated detections, the injection they recovered. Their
identity becomes (lightcurve, version, peak time, simulated, injection) with NULLS NOT
DISTINCT (PostgreSQL 15+): real detections keep their old uniqueness, while simulated ones
of different injections may share a peak time.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-30

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def _empty_json() -> sa.TextClause:
    return sa.text("'{}'::jsonb")


def upgrade() -> None:
    """Create the science tables and extend detections."""
    op.create_table(
        "injections",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "lightcurve_id", sa.BigInteger(), sa.ForeignKey("lightcurves.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("peak_mjd", sa.Float(), nullable=False),
        sa.Column("start_mjd", sa.Float(), nullable=False),
        sa.Column("end_mjd", sa.Float(), nullable=False),
        sa.Column("amplitude", sa.Float(), nullable=False),
        sa.Column("snr_amplitude", sa.Float(), nullable=False),
        sa.Column("width", sa.Float(), nullable=False),
        sa.Column("u0", sa.Float()),
        sa.Column("params", postgresql.JSONB(), nullable=False, server_default=_empty_json()),
        sa.Column("recovered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.UniqueConstraint("lightcurve_id", "version", "sequence", name="uq_injections_identity"),
    )
    op.create_index("ix_injections_source_version", "injections", ["source_id", "version"])

    op.add_column("detections", sa.Column("filter_width", sa.Float(), nullable=False, server_default="0"))
    op.add_column("detections", sa.Column("first_epoch", sa.Integer()))
    op.add_column("detections", sa.Column("last_epoch", sa.Integer()))
    op.add_column(
        "detections", sa.Column("quality", postgresql.JSONB(), nullable=False, server_default=_empty_json())
    )
    op.add_column(
        "detections",
        sa.Column("injection_id", sa.BigInteger(), sa.ForeignKey("injections.id", ondelete="CASCADE")),
    )
    op.create_index("ix_detections_injection", "detections", ["injection_id"])
    op.drop_constraint("uq_detections_identity", "detections", type_="unique")
    op.create_unique_constraint(
        "uq_detections_identity",
        "detections",
        ["lightcurve_id", "version", "peak_mjd", "is_simulated", "injection_id"],
        postgresql_nulls_not_distinct=True,
    )

    op.create_table(
        "source_summaries",
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("survey", sa.Text(), primary_key=True),
        sa.Column("version", sa.Text(), primary_key=True),
        sa.Column("num_lightcurves", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("num_epochs", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("num_good", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("mag_median", sa.Float()),
        sa.Column("rms", sa.Float()),
        sa.Column("best_snr", sa.Float()),
        sa.Column("num_detections", sa.Integer(), nullable=False, server_default="0"),
    )

    op.create_table(
        "histogram_parts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("survey", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
    )
    op.create_index("ix_histogram_parts_product", "histogram_parts", ["project_id", "survey", "version", "kind"])


def downgrade() -> None:
    """Drop the science tables and restore the first detections table.

    Simulated detections of injections are deleted: without their injection they would
    violate the old identity (several may share a peak time).
    """
    op.drop_table("histogram_parts")
    op.drop_table("source_summaries")
    op.execute("DELETE FROM detections WHERE injection_id IS NOT NULL")
    op.drop_constraint("uq_detections_identity", "detections", type_="unique")
    op.create_unique_constraint(
        "uq_detections_identity", "detections", ["lightcurve_id", "version", "peak_mjd", "is_simulated"]
    )
    op.drop_index("ix_detections_injection", table_name="detections")
    for column in ("injection_id", "quality", "last_epoch", "first_epoch", "filter_width"):
        op.drop_column("detections", column)
    op.drop_table("injections")
