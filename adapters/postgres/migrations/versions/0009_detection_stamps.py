"""Pixel evidence on detections: where the image stamps (reference, peak, difference) of each event are.

Detections of a survey with images gain the file and key of their stamps in the data folder (written by
the data store in the same batch as the detection rows); NULL for detections without images.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COLUMNS = ("stamps_file", "stamps_key")


def upgrade() -> None:
    """Add the stamps columns to detections."""
    for name in _COLUMNS:
        op.add_column("detections", sa.Column(name, sa.Text()))


def downgrade() -> None:
    """Drop the columns added by :func:`upgrade`."""
    for name in reversed(_COLUMNS):
        op.drop_column("detections", name)
