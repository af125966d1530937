"""Segments: the epochs of many lightcurves laid end to end, and exact statistics per lightcurve.

The analysis of a batch is dominated by numpy's per-call overhead when it runs one
lightcurve at a time (a hundred epochs cost about as much as one call). Laying a batch's
columns end to end and computing each lightcurve's statistics in one call per batch removes
that overhead. Every statistic here equals, bit for bit, the per-lightcurve function of
:mod:`domain.statistics` it replaces: medians are order statistics, read from one sort of a
padded two-dimensional copy, and the middle pair is averaged with the same operations.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from virtualobserver.domain.statistics import MAD_TO_SIGMA

__all__ = ["Segments"]

#: Largest ratio of padded to actual elements before medians are taken by classes of lengths.
_MAX_PADDING = 4


class Segments:
    """Consecutive runs of given lengths in a concatenated array (segment ``i`` is one lightcurve).

    Parameters
    ----------
    lengths : sequence of int
        Number of elements of each segment, in order.

    Examples
    --------
    >>> s = Segments([3, 2])
    >>> s.median(np.array([3.0, 1.0, 2.0, 10.0, 20.0])).tolist()
    [2.0, 15.0]
    """

    def __init__(self, lengths: Sequence[int]):
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.stops = np.cumsum(self.lengths)
        self.starts = self.stops - self.lengths
        self.count = int(self.lengths.size)
        self.size = int(self.stops[-1]) if self.count else 0
        self.ids = np.repeat(np.arange(self.count), self.lengths)
        self.width = int(self.lengths.max()) if self.count else 0
        self.uniform = bool(self.count) and bool((self.lengths == self.width).all())
        self._flat: np.ndarray | None = None
        #: (start, stop) of each segment, as Python ints.
        self.bounds = list(zip(self.starts.tolist(), self.stops.tolist()))

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Return each segment of ``values`` (views, in order)."""
        return [values[start:stop] for start, stop in self.bounds]

    def spread(self, per_segment) -> np.ndarray:
        """Return one value per element: each segment's value repeated over its elements."""
        return np.repeat(np.asarray(per_segment), self.lengths)

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """Return the number of true elements of ``mask`` in each segment."""
        running = np.concatenate([[0], np.cumsum(mask, dtype=np.intp)])
        return running[self.stops] - running[self.starts]

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Return whether each segment has a true element of ``mask``."""
        return self.counts(mask) > 0

    def first(self, values: np.ndarray, mask: np.ndarray, default: float) -> np.ndarray:
        """Return the first element of each segment where ``mask`` holds (``default`` where none does)."""
        result = np.full(self.count, default, dtype=float)
        where = np.flatnonzero(mask)
        if where.size:
            ids = self.ids[where]
            # The first index of each id among the sorted, masked positions.
            first = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
            result[ids[first]] = values[where[first]]
        return result

    def median(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Return the median of each segment's elements (those where ``mask`` holds), as ``statistics.median``.

        NaN for a segment with no elements or with a NaN among them.

        Parameters
        ----------
        values : numpy.ndarray
            Concatenated values (float).
        mask : numpy.ndarray of bool, optional
            Elements that count (default all).

        Returns
        -------
        numpy.ndarray
            One median per segment.
        """
        values = np.asarray(values, dtype=float)
        if self.count > 1 and self.count * self.width > _MAX_PADDING * self.size:
            return self._median_by_length(values, mask)
        if mask is None:
            lengths, has_nan = self.lengths, self.any(np.isnan(values))
        else:
            lengths, has_nan = self.counts(mask), self.any(mask & np.isnan(values))
            # Left-out elements become NaN, which sorts after every number: each row then starts
            # with its own values in order (a NaN among them is caught by has_nan).
            values = np.where(mask, values, np.nan)
        result = np.full(self.count, np.nan)
        if self.width == 0:
            return result
        padded = self._padded(values)
        padded.sort(axis=1)
        rows = np.arange(self.count)
        half = lengths // 2
        odd = lengths % 2 == 1
        even = ~odd & (lengths > 0)
        result[odd] = padded[rows[odd], half[odd]]
        result[even] = (padded[rows[even], half[even] - 1] + padded[rows[even], half[even]]) / 2.0
        result[has_nan] = np.nan
        return result

    def _median_by_length(self, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        # Segments of very different lengths (a long season among short ones) would be padded to the
        # longest: take them by classes of lengths within a factor of two, each padded on its own.
        # Lengths in (2**(c-1), 2**c] make class c, so no class is padded more than twofold; empty
        # segments (class -1) have no median.
        classes = np.where(self.lengths > 0, np.ceil(np.log2(np.maximum(self.lengths, 1))), -1).astype(np.intp)
        of_element = classes[self.ids]
        result = np.full(self.count, np.nan)
        for length_class in np.unique(classes[classes >= 0]):
            members = np.flatnonzero(classes == length_class)
            take = np.flatnonzero(of_element == length_class)
            result[members] = Segments(self.lengths[members]).median(
                values[take], None if mask is None else mask[take])
        return result

    def _padded(self, values: np.ndarray) -> np.ndarray:
        # One row per segment, padded with NaN to the longest; a plain reshape when all are equal.
        if self.uniform:
            return values.reshape(self.count, self.width).copy()
        if self._flat is None:
            self._flat = self.ids * self.width + (np.arange(self.size) - np.repeat(self.starts, self.lengths))
        padded = np.full(self.count * self.width, np.nan)
        padded[self._flat] = values
        return padded.reshape(self.count, self.width)

    def leave_one_out_median(self, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return, per element, the median of its segment's masked elements other than itself.

        For an element where ``mask`` holds, the median of the segment's other masked elements; for
        any other element, the median of all of them (it is not among them). The medians are order
        statistics of one sort per segment: removing the element of rank ``p`` from ``n`` ordered
        values leaves the middle one or pair at ranks next to ``n // 2``, chosen by ``p``.

        Parameters
        ----------
        values : numpy.ndarray
            Concatenated values (float, finite where ``mask`` holds).
        mask : numpy.ndarray of bool
            Elements that make up each segment's sample.

        Returns
        -------
        tuple of numpy.ndarray
            Per element: the median (NaN where the sample without it is empty), and the number of
            values it is the median of.

        Examples
        --------
        >>> s = Segments([4])
        >>> s.leave_one_out_median(np.array([1.0, 2.0, 3.0, 10.0]), np.ones(4, bool))[0].tolist()
        [3.0, 3.0, 2.0, 2.0]
        """
        values = np.asarray(values, dtype=float)
        medians = np.full(self.size, np.nan)
        counts = np.zeros(self.size, dtype=np.intp)
        if self.count == 0:
            return medians, counts
        classes = np.where(self.lengths > 0, np.ceil(np.log2(np.maximum(self.lengths, 1))), -1).astype(np.intp)
        if self.count > 1 and self.count * self.width > _MAX_PADDING * self.size:
            # As _median_by_length: segments of similar lengths together, so that none is padded much.
            of_element = classes[self.ids]
            for length_class in np.unique(classes[classes >= 0]):
                take = np.flatnonzero(of_element == length_class)
                part = Segments(self.lengths[classes == length_class])
                medians[take], counts[take] = part._leave_one_out_median(values[take], mask[take])
            return medians, counts
        return self._leave_one_out_median(values, mask)

    def _leave_one_out_median(self, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.counts(mask)
        padded = self._padded(np.where(mask, values, np.inf))
        order = np.argsort(padded, axis=1, kind="stable")
        ordered = np.take_along_axis(padded, order, axis=1)
        rank_padded = np.empty_like(order)
        np.put_along_axis(rank_padded, order, np.broadcast_to(np.arange(self.width), order.shape), axis=1)
        flat = self._flat if not self.uniform else None
        rank = rank_padded.ravel()[flat] if flat is not None else rank_padded.ravel()
        rows = self.ids
        n_el, half = n[rows], (n // 2)[rows]

        def at(r):
            return ordered[rows, np.clip(r, 0, self.width - 1)]

        odd = n_el % 2 == 1
        # The whole sample's median, for the elements not in it.
        whole = np.where(odd, at(half), (at(half - 1) + at(half)) / 2.0)
        # Without the element of rank p: n odd (= 2h + 1) leaves an even sample, whose middle pair is
        # (h, h + 1) for p < h, (h - 1, h + 1) for p = h and (h - 1, h) for p > h; n even (= 2h) leaves
        # an odd one, whose middle is h for p < h and h - 1 otherwise.
        lo = np.where(odd, np.where(rank < half, half, half - 1), np.where(rank < half, half, half - 1))
        hi = np.where(odd, np.where(rank > half, half, half + 1), lo)
        without = np.where(odd, (at(lo) + at(hi)) / 2.0, at(lo))
        medians = np.where(mask, without, whole)
        counts = np.where(mask, n_el - 1, n_el)
        medians[counts == 0] = np.nan
        return medians, counts

    def robust_location_scale(self, values: np.ndarray, mask: np.ndarray | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Return (median, MAD-based standard deviation) of each segment's finite elements.

        As ``statistics.robust_location_scale`` applied to each segment's elements where ``mask``
        holds; NaNs for a segment with no finite element.

        Parameters
        ----------
        values : numpy.ndarray
            Concatenated values.
        mask : numpy.ndarray of bool, optional
            Elements that count (default all).

        Returns
        -------
        tuple of numpy.ndarray
            Medians and robust standard deviations, one per segment.
        """
        values = np.asarray(values, dtype=float)
        finite = np.isfinite(values) if mask is None else mask & np.isfinite(values)
        centre = self.median(values, finite)
        deviation = np.abs(values - self.spread(centre))
        return centre, MAD_TO_SIGMA * self.median(deviation, finite)
