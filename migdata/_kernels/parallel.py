"""A map over threads, for work that is numpy, pandas and Arrow array operations (they release
the GIL, so a large table keeps both cores of a small machine busy).

Example:
    >>> map_in_threads(lambda x: x * x, [1, 2, 3], parallel=True)
    [1, 4, 9]
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

THREADS = 2  # the machines this runs on have two cores or more; more threads only contend


def set_threads(n: int) -> None:
    """Threads each map (and the CSPro reader) uses in this process from now on: 1 in worker
    processes that already fill the cores, where threads would only compete for them."""
    global THREADS
    THREADS = max(1, int(n))


def keep_freed_memory() -> bool:
    """Have the C library keep the memory this process frees for its next allocations instead of
    handing it back to the kernel, which zeroes every page again when it is asked for anew (a
    quarter of a streaming-import worker's time went to the kernel). For processes that are
    migdata's alone (the import's workers), never a user's: the process keeps its peak memory.
    glibc only (``mallopt``); elsewhere nothing changes and False is returned."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    # arrays up to 32 MB (glibc's largest threshold) from the heap, which is trimmed only past
    # 1 GB free and grown 256 MB at a time
    return all(mallopt(opt, value) == 1 for opt, value in
               ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 256 << 20)))


def release_freed_memory() -> bool:
    """Hand the memory this process has freed back to the kernel now (glibc ``malloc_trim``).
    Arrays below glibc's mmap threshold (up to 32 MB once a larger block was freed) come from the
    heap, whose freed pages glibc keeps: gigabytes at national scale that the next step (the next
    indicator, the import's rules between rows) would add to the peak (results/scale.md, "Late
    evening of 7 December"). Elsewhere nothing happens and False is returned.

    Example:
        >>> _ = release_freed_memory()  # True where the C library is glibc
    """
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def _glibc(name: str) -> Callable[..., int] | None:
    """The C library's function ``name`` (None where the library has none: not glibc)."""
    import ctypes
    import ctypes.util

    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def map_in_threads(fn: Callable[[T], R], items: Iterable[T], parallel: bool = True) -> list[R]:
    """``list(map(fn, items))``: results in the order of ``items``, and the first exception in
    that order is raised. With ``parallel``, :data:`THREADS` items are computed at a time, so
    ``fn`` must not share mutable state between items (give each its own report and merge the
    reports in order afterwards)."""
    items = list(items)
    if not parallel or len(items) < 2 or THREADS < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, items))


def imap_in_threads(fn: Callable[[T], R], items: Iterable[T], ahead: int = 0) -> Iterator[tuple[T, R]]:
    """``((x, fn(x)) for x in items)``, in order, with up to ``ahead`` items computed on other
    threads while the caller works on the one it was given (0: no thread). An exception is
    raised where that item is reached. ``fn`` must not share mutable state between items.

    Example:
        >>> list(imap_in_threads(lambda x: x + 1, [1, 2, 3], ahead=2))
        [(1, 2), (2, 3), (3, 4)]
    """
    if ahead <= 0:
        for x in items:
            yield x, fn(x)
        return
    it = iter(items)
    with ThreadPoolExecutor(min(ahead, THREADS)) as pool:
        pending: deque = deque()
        for x in it:
            pending.append((x, pool.submit(fn, x)))
            if len(pending) >= ahead:
                break
        while pending:
            x, fut = pending.popleft()
            nxt = next(it, _END)
            if nxt is not _END:
                pending.append((nxt, pool.submit(fn, nxt)))
            r = fut.result()
            fut = None
            yield x, r
            r = None


_END = object()


class _Job:
    """The items of one :func:`map_shared` call, and what became of each."""

    def __init__(self, fn: Callable[[T], R], items: list[T]) -> None:
        self.fn, self.items = fn, items
        self.next = 0  # the first item no thread has taken
        self.left = len(items)  # items not finished
        self.results: list = [None] * len(items)
        self.errors: list = [None] * len(items)


_JOBS: list[_Job] = []  # the open map_shared calls, oldest first
_CV = threading.Condition()


def _take(jobs: list[_Job]) -> tuple[_Job, int] | None:
    """The next item of the first of ``jobs`` that has one left, marked taken (hold ``_CV``)."""
    for job in jobs:
        if job.next < len(job.items):
            job.next += 1
            return job, job.next - 1
    return None


def _run(job: _Job, i: int) -> None:
    try:
        r, err = job.fn(job.items[i]), None
    except BaseException as exc:  # raised by the caller of map_shared, in item order
        r, err = None, exc
    with _CV:
        job.results[i], job.errors[i] = r, err
        job.left -= 1
        _CV.notify_all()


def map_shared(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``list(map(fn, items))``, computed by the calling thread while threads waiting in
    :func:`help_others` take items too: the blocks of the last partition of a store are then
    computed on both cores instead of one. Results are in the order of ``items``; the first
    exception in that order is raised once every item is done. With no helper it is the plain
    loop on the calling thread. ``fn`` must not share mutable state between items.

    Example:
        >>> map_shared(lambda x: x * 2, [1, 2, 3])
        [2, 4, 6]
    """
    job = _Job(fn, list(items))
    with _CV:
        _JOBS.append(job)
        _CV.notify_all()
    try:
        while True:
            with _CV:
                got = _take([job])
            if got is None:
                break
            _run(*got)
        with _CV:  # items a helper took may still be running
            while job.left:
                _CV.wait()
    finally:
        with _CV:
            _JOBS.remove(job)
    for err in job.errors:
        if err is not None:
            raise err
    return job.results


def help_others(done: Callable[[], bool], poll: float = 0.05) -> None:
    """Take items of the open :func:`map_shared` calls of other threads, oldest call first,
    until ``done()`` is true (checked at least every ``poll`` seconds while there is nothing to
    take). A thread of a pool runs this once its own tasks are all started."""
    while True:
        with _CV:
            got = None
            while not done():
                got = _take(_JOBS)
                if got is not None:
                    break
                _CV.wait(poll)
            if got is None:
                return
        _run(*got)
