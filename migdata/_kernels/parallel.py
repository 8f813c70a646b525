"""A map over threads, for work that is numpy, pandas and Arrow array operations (they release
the GIL, so a large table keeps both cores of a small machine busy).

Example:
    >>> map_in_threads(lambda x: x * x, [1, 2, 3], parallel=True)
    [1, 4, 9]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

THREADS = 2  # the machines this runs on have two cores or more; more threads only contend


def map_in_threads(fn: Callable[[T], R], items: Iterable[T], parallel: bool = True) -> list[R]:
    """``list(map(fn, items))``: results in the order of ``items``, and the first exception in
    that order is raised. With ``parallel``, :data:`THREADS` items are computed at a time, so
    ``fn`` must not share mutable state between items (give each its own report and merge the
    reports in order afterwards)."""
    items = list(items)
    if not parallel or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, items))
