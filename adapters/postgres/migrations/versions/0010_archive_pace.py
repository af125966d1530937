"""Archive request pacing shared by processes: the next free request time of each archive service.

Every process of a run (Dask workers) and every run on the database reserves its requests to an
archive here (adapters/postgres/archive_limits.py), so together they keep the configured rate.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create archive_pace."""
    op.create_table(
        "archive_pace",
        sa.Column("archive", sa.Text(), primary_key=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop archive_pace."""
    op.drop_table("archive_pace")
