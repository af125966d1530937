"""Pixel evidence on detections: the flux-weighted centroid shift of the event and the offset of its light.

Detections of a survey with images (target pixel files, cutouts) gain the centroid shift between the
in-event and out-of-event images with its error, in pixels and arcsec, and the distance of the light
that changed from the target with its error and their ratio (large for an event on a neighbour).
NULL for detections without images.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# As domain.detection.CENTROID_FIELDS when this revision was written (a migration does not follow the code).
_COLUMNS = ("centroid_shift_px", "centroid_shift_err_px", "centroid_shift_arcsec", "centroid_shift_err_arcsec",
            "centroid_offset_px", "centroid_offset_err_px", "centroid_offset_sigma")


def upgrade() -> None:
    """Add the centroid shift columns to detections."""
    for name in _COLUMNS:
        op.add_column("detections", sa.Column(name, sa.Float()))


def downgrade() -> None:
    """Drop the columns added by :func:`upgrade`."""
    for name in reversed(_COLUMNS):
        op.drop_column("detections", name)
