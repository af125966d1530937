"""Injections per source: an event placed over the source's whole span, injected into every lightcurve it covers.

An injection is now identified by (source, version, sequence): its event may fall in a gap between
seasons (then it covers no lightcurve and ``lightcurve_id`` is NULL, which is how the duty cycle enters
the efficiency) or cover several lightcurves (one per filter). ``lightcurve_id`` names the reference
lightcurve its S/N amplitude is measured in. New columns: ``covered`` (lightcurves with good epochs in
the event's span), ``found_in`` (those where a detection the injection caused was found) and
``overlaps_real`` (a detection of the un-injected data overlapped the event).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Key injections by source, let them have no lightcurve, and record their coverage and outcome."""
    op.drop_constraint("uq_injections_identity", "injections", type_="unique")
    op.create_unique_constraint("uq_injections_identity", "injections", ["source_id", "version", "sequence"])
    op.alter_column("injections", "lightcurve_id", nullable=True)
    op.add_column("injections", sa.Column("covered", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("injections", sa.Column("found_in", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("injections", sa.Column("overlaps_real", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    # Before this revision every injection went into one lightcurve, found there or not.
    op.execute("UPDATE injections SET found_in = 1 WHERE recovered")


def downgrade() -> None:
    """Back to one lightcurve per injection (injections without one are deleted)."""
    op.execute("DELETE FROM injections WHERE lightcurve_id IS NULL")
    for name in ("overlaps_real", "found_in", "covered"):
        op.drop_column("injections", name)
    op.alter_column("injections", "lightcurve_id", nullable=False)
    op.drop_constraint("uq_injections_identity", "injections", type_="unique")
    op.create_unique_constraint("uq_injections_identity", "injections", ["lightcurve_id", "version", "sequence"])
