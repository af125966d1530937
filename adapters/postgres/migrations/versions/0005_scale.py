"""Scale: a HEALPix index on sources for cone searches, and the batch file of each source's epoch scores.

``sources.healpix`` is the nested HEALPix index at ``domain.healpix.INDEX_ORDER`` (nside 2**20),
indexed with the project by a btree, so a cone search reads a few index ranges. Existing rows get
their index computed here. ``source_summaries.scores_file`` records the per-batch file that holds a
source's per-epoch analysis products (NULL for the older one-file-per-source layout).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_CHUNK = 50_000


def upgrade() -> None:
    """Add sources.healpix (filled for existing rows) with its index, and source_summaries.scores_file."""
    from virtualobserver.domain.healpix import INDEX_ORDER, ang2pix_nested

    op.add_column("sources", sa.Column("healpix", sa.BigInteger()))
    op.add_column("source_summaries", sa.Column("scores_file", sa.Text()))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(sa.text("SELECT id, ra, dec FROM sources WHERE id > :last ORDER BY id LIMIT :n"),
                                  {"last": last, "n": _CHUNK}).all()
        if not rows:
            break
        ids, ra, dec = zip(*rows)
        pixels = ang2pix_nested(INDEX_ORDER, ra, dec)
        connection.execute(sa.text("UPDATE sources SET healpix = :p WHERE id = :i"),
                           [{"p": int(p), "i": int(i)} for i, p in zip(ids, pixels)])
        last = ids[-1]
    op.create_index("ix_sources_project_healpix", "sources", ["project_id", "healpix"])


def downgrade() -> None:
    """Drop the HEALPix index and column and the scores file column."""
    op.drop_index("ix_sources_project_healpix", table_name="sources")
    op.drop_column("source_summaries", "scores_file")
    op.drop_column("sources", "healpix")
