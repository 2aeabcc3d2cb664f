"""Work shared out over forked processes: the one recipe validation (summaries), the SLA
(sla.run) and the site (render.builder) use when there is much of it.

The workers are forked so that they inherit what the parent has built (records, schemas,
compiled templates) instead of being sent it; they send back only what the parent keeps.
Where fork is not available, or with one core, or with little work, the caller does the
work itself (`worth_forking` says which).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

MAX_WORKERS = 8
T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    return min(os.cpu_count() or 1, MAX_WORKERS)


def worth_forking(count: int, threshold: int) -> bool:
    """Whether `count` pieces of work are worth forking processes for (`threshold`: the
    caller's measured break-even)."""
    return (
        count >= threshold and workers() >= 2 and "fork" in multiprocessing.get_all_start_methods()
    )


def fork_map(
    function: Callable[[T], R],
    jobs: Iterable[T],
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """`function(job)` for each job, in order, computed by forked workers.

    Objects that exist before the fork are first moved out of the collector's sight
    (gc.freeze): otherwise each worker's collections touch every one of them and copy the
    parent's memory page by page (which made two workers no faster than one)."""
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers(), initializer, initargs) as pool:
            yield from pool.imap(function, jobs)
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def forked_soon(function: Callable[[T], R], jobs: Sequence[T]) -> Iterator[Callable[[], list[R]]]:
    """Start `function(job)` for each job in forked workers now, while the caller goes on
    with other work; the block is given a function that waits for the results, in order.
    Leaving the block by an exception stops the workers."""
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        pool = context.Pool(max(1, min(workers(), len(jobs))))
        try:
            pending = pool.map_async(function, jobs, chunksize=1)
            pool.close()
            yield pending.get
            pool.join()
        finally:
            pool.terminate()
    finally:
        gc.unfreeze()
