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
import os
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

MAX_WORKERS = 8
T = TypeVar("T")
R = TypeVar("R")
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def workers() -> int:
    return min(os.cpu_count() or 1, MAX_WORKERS)


def worth_forking(count: int, threshold: int) -> bool:
    """Whether `count` pieces of work are worth forking processes for (`threshold`: the
    caller's measured break-even)."""
    return count >= threshold and workers() >= 2 and hasattr(os, "fork")


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
    import multiprocessing

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

    Plain forks and pipes: not a Pool, which keeps threads running in this process (forking
    again while they run, as the caller's next `fork_map` does, can leave a lock held in the
    new child: Python 3.12 warns of it); not multiprocessing's Process either, whose import
    and start cost ~0.02 s where `isg site build` forks its look at the site, before its
    other imports (render/site_look.py)."""
    gc.freeze()
    count = max(1, min(workers(), len(jobs)))
    shares = [list(range(first, len(jobs), count)) for first in range(count)]
    started: list[_Worker] = []
    try:
        for share in shares:
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                os.close(reader)
                _run_share(function, [jobs[i] for i in share], writer)
            os.close(writer)
            started.append(_Worker(pid, reader, share))

        def results() -> list[R]:
            found: dict[int, R] = {}
            for worker in started:
                found.update(zip(worker.share, worker.values(), strict=True))
            return [found[index] for index in range(len(jobs))]

        yield results
    finally:
        for worker in started:
            worker.stop()
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


class _Worker:
    """A worker `forked_soon` started: its process, the pipe it answers on, its jobs."""

    def __init__(self, pid: int, reader: int, share: list[int]) -> None:
        self.pid, self.reader, self.share = pid, reader, share
        self.ended: int | None = None  # its exit code, once waited for
        self.answer: tuple[bool, Any] | None = None  # (ok, results or exception), once read

    def values(self) -> list[Any]:
        """What the worker sent back (its results, in the order of its jobs), or the
        exception that stopped one of them, raised; asked again, the same."""
        if self.answer is None:
            self.answer = self._read()
        ok, values = self.answer
        if not ok:
            raise values
        return values  # type: ignore[no-any-return]

    def _read(self) -> tuple[bool, Any]:
        with open(self.reader, "rb", closefd=False) as pipe:
            sent = pipe.read()
        code = self._wait()
        if not sent:  # killed (or ended) before it could answer
            return False, RuntimeError(f"a worker stopped (exit code {code})")
        try:
            answer: tuple[bool, Any] = pickle.loads(sent)
        except Exception as exc:  # an exception whose pickle does not load here
            return False, RuntimeError(f"a worker's answer could not be read: {exc}")
        return answer

    def stop(self) -> None:
        """Stopped, if still running, and waited for; its pipe closed."""
        if self.ended is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self._wait()
        with contextlib.suppress(OSError):
            os.close(self.reader)

    def _wait(self) -> int:
        if self.ended is None:
            _, status = os.waitpid(self.pid, 0)
            self.ended = os.waitstatus_to_exitcode(status)
        return self.ended


def _run_share(function: Callable[[Any], Any], jobs: list[Any], writer: int) -> NoReturn:
    """In a worker: every job of its share, sent back whole, or the exception that stopped
    one; then the worker ends at once (os._exit: nothing of the parent's, its buffered
    output or its exit hooks, is run twice)."""
    code = 0
    try:
        try:
            answer = pickle.dumps((True, [function(job) for job in jobs]), _PROTOCOL)
        except BaseException as exc:  # sent to the parent, which raises it
            try:
                answer = pickle.dumps((False, exc), _PROTOCOL)
            except Exception:  # an exception that cannot be pickled: its text
                failure = RuntimeError(f"{type(exc).__name__}: {exc}")
                answer = pickle.dumps((False, failure), _PROTOCOL)
        with open(writer, "wb") as pipe:
            pipe.write(answer)
    except BaseException:  # the pipe closed (the parent stopped): nothing to tell
        code = 1
    finally:
        os._exit(code)
