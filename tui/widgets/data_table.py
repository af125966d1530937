"""A DataTable that redraws its cells once it has measured them."""

from __future__ import annotations

from textual.widgets import DataTable

__all__ = ["MeasuredDataTable"]


class MeasuredDataTable(DataTable):
    """Textual's ``DataTable``, whose cells are drawn again when measuring new rows widens a column.

    Textual (8.2) caches each rendered cell by row, column and update count, not by width, and
    measures new rows on a later idle without invalidating that cache: a cell drawn before the
    measurement keeps its header-width rendering (seen as RA and Dec cut to two characters in the
    catalog, depending on timing). Clearing the render caches when a width changed restores it.
    """

    def _update_dimensions(self, new_rows) -> None:
        widths = [column.content_width for column in self.columns.values()]
        super()._update_dimensions(new_rows)
        if widths != [column.content_width for column in self.columns.values()]:
            self._clear_caches()
            self.refresh()
