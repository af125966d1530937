"""Triage: the label a person gives each detection (real, artifact, unsure) and when it was given.

The label lives on the detection row: re-analysing at the same version updates a detection in
place (same identity, same id), so its label is kept; a new version has new detections to judge.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add detections.label (checked against the known labels) and detections.labelled_at."""
    op.add_column("detections", sa.Column("label", sa.Text()))
    op.add_column("detections", sa.Column("labelled_at", sa.DateTime(timezone=True)))
    op.create_check_constraint("ck_detections_label", "detections",
                               "label IS NULL OR label IN ('real', 'artifact', 'unsure')")


def downgrade() -> None:
    """Drop the label columns (and their check)."""
    op.drop_constraint("ck_detections_label", "detections", type_="check")
    op.drop_column("detections", "labelled_at")
    op.drop_column("detections", "label")
