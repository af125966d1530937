"""Python's cyclic garbage collector while batches run: collected after 50 000 new objects, not 700."""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

__all__ = ["fewer_collections", "BATCH_THRESHOLD"]

#: Net new container objects (allocations less deallocations) between collections of the youngest
#: generation while batches run. Python's default, 700, makes a batch of 500 reference sources
#: (about 40 000 short-lived rows, arrays' owners and ORM states) trigger dozens of young collections,
#: and each tenth of them an older one; every full collection walks every object of the process
#: (SQLAlchemy's, numpy's, the project's), 90 ms each. Measured on 20 000 reference sources
#: (``benchmarks/run_breakdown.py`` with a collector callback): 2.0 s of 17.4 s in the collector at
#: 700, 0.1 s at 50 000 (18 full collections to none), the same peak memory. Objects in reference
#: cycles still go, in the next young collection: at most this many wait for it.
BATCH_THRESHOLD = 50_000

_LOCK = threading.Lock()
_depth = 0
_saved: tuple[int, ...] | None = None


@contextlib.contextmanager
def fewer_collections(threshold: int = BATCH_THRESHOLD) -> Iterator[None]:
    """Raise the collector's threshold of the youngest generation while the block runs, then restore it.

    Blocks may nest and run on several threads at once (a TUI's run, a Dask worker's threads): the
    first to enter raises the threshold, the last to leave restores what was there before. A
    threshold already higher is kept.

    Parameters
    ----------
    threshold : int
        Youngest generation's threshold inside the block.
    """
    global _depth, _saved
    with _LOCK:
        if _depth == 0:
            _saved = gc.get_threshold()
            if 0 < _saved[0] < threshold:  # 0: the collector was turned off by threshold, leave it so
                gc.set_threshold(threshold, *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
