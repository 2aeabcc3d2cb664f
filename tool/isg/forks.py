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
    Leaving the block by an exception stops the workers.

    Plain processes and pipes, not a Pool: a Pool keeps threads running in this process,
    and forking again while they run (the caller's next `fork_map`) can leave a lock held
    in the new child (Python 3.12 warns of it)."""
    gc.freeze()
    context = multiprocessing.get_context("fork")
    count = max(1, min(workers(), len(jobs)))
    shares = [list(range(first, len(jobs), count)) for first in range(count)]
    started: list[tuple[Any, Any, list[int]]] = []
    try:
        for share in shares:
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_run_share, args=(function, [jobs[i] for i in share], writer), daemon=True
            )
            process.start()
            writer.close()
            started.append((process, reader, share))

        def results() -> list[R]:
            found: dict[int, R] = {}
            for process, reader, share in started:
                try:
                    ok, values = reader.recv()
                except EOFError:  # killed before it could answer
                    process.join()
                    raise RuntimeError(f"a worker stopped (exit code {process.exitcode})") from None
                if not ok:
                    raise values
                found.update(zip(share, values, strict=True))
                process.join()
            return [found[index] for index in range(len(jobs))]

        yield results
    finally:
        for process, reader, _ in started:
            if process.is_alive():
                process.terminate()
            process.join()
            reader.close()
        gc.unfreeze()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (and in the processes forked in
    it), on again after if it was on. Reference counting still frees every object that is
    not in a cycle.

    For blocks that make many objects that live on, and next to no cycles: the collector,
    run every 700 new objects, looks at them again and again. Receiving validation's rows
    of 57,000 records took 1.25 s with it and 0.34 s without; summarizing a valid record
    makes no cycle (a test holds that)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_share(function: Callable[[Any], Any], jobs: list[Any], writer: Any) -> None:
    """In a worker: every job of its share, sent back whole, or the exception that stopped
    one."""
    try:
        writer.send((True, [function(job) for job in jobs]))
    except BaseException as exc:  # sent to the parent, which raises it
        try:
            writer.send((False, exc))
        except Exception:  # an exception that cannot be pickled: its text
            writer.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        writer.close()
