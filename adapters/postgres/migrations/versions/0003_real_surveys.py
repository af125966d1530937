"""Real surveys: the epoch of each source's position, and the time scale of each lightcurve.

Sources keep the Julian year of their catalog position (Gaia DR3: 2016.0), so a survey client can
move the position along the proper motion to its own epoch. Lightcurves record whether their MJD
is UTC (ground surveys) or TDB (TESS barycentric times); existing rows are UTC.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add sources.epoch and lightcurves.time_scale."""
    op.add_column("sources", sa.Column("epoch", sa.Float()))
    op.add_column("lightcurves", sa.Column("time_scale", sa.Text(), nullable=False, server_default="utc"))


def downgrade() -> None:
    """Drop the two columns."""
    op.drop_column("lightcurves", "time_scale")
    op.drop_column("sources", "epoch")
