"""Events measured as the community measures them, and summaries per filter.

Detections gain the single-epoch S/N of their peak epoch, the fractional amplitude at the peak
against the local baseline (negative for dips: the depth), and the equivalent duration with its
error (seconds; AltaiPony's definition, signed: negative for dips). Source summaries gain the
signed strongest detection (its kind and peak time, for the follow-up list), the statistics of each
filter (one JSON object per filter), and how many detections a per-lightcurve cap left out.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_DETECTION_COLUMNS = ("peak_snr", "amplitude", "equivalent_duration", "equivalent_duration_err")


def upgrade() -> None:
    """Add the event measures to detections and the per-filter statistics to source summaries."""
    for name in _DETECTION_COLUMNS:
        op.add_column("detections", sa.Column(name, sa.Float()))
    op.add_column("source_summaries", sa.Column("best_kind", sa.Text()))
    op.add_column("source_summaries", sa.Column("best_peak_mjd", sa.Float()))
    op.add_column("source_summaries", sa.Column("per_filter", postgresql.JSONB(), nullable=False,
                                                server_default=sa.text("'{}'::jsonb")))
    op.add_column("source_summaries", sa.Column("detections_dropped", sa.Integer(), nullable=False,
                                                server_default="0"))


def downgrade() -> None:
    """Drop the columns added by :func:`upgrade`."""
    for name in ("detections_dropped", "per_filter", "best_peak_mjd", "best_kind"):
        op.drop_column("source_summaries", name)
    for name in reversed(_DETECTION_COLUMNS):
        op.drop_column("detections", name)
