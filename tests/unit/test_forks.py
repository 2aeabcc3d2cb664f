"""Work shared out over forked processes (isg.forks)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from isg.forks import forked_soon


def _children() -> list[int]:
    """This process's child processes, running or not yet waited for (Linux's /proc)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    return sorted(
        int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()
    )


def _square(number: int) -> int:
    return number * number


def _refuse(number: int) -> int:
    raise ValueError(f"job {number} refused")


def _sleep(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


def test_forked_soon_gives_the_results_in_the_order_of_the_jobs() -> None:
    before = _children()
    threads = threading.active_count()
    with forked_soon(_square, [3, 1, 2, 5]) as results:
        # No thread started here meanwhile: the caller forks its own workers next
        # (fork_map), and a fork beside running threads can leave their locks held.
        assert threading.active_count() == threads
        assert results() == [9, 1, 4, 25]
        assert results() == [9, 1, 4, 25]  # asked again: the same
    assert _children() == before


def test_a_job_that_fails_fails_the_results() -> None:
    before = _children()
    with forked_soon(_refuse, [2]) as results:
        for _ in range(2):  # asked again: raised again
            with pytest.raises(ValueError, match="job 2 refused"):
                results()
    assert _children() == before


def test_leaving_by_an_exception_stops_the_workers() -> None:
    before = _children()
    with pytest.raises(RuntimeError, match="planning failed"), forked_soon(_sleep, [600, 600]):
        assert len(_children()) > len(before)  # running, then stopped and waited for
        raise RuntimeError("planning failed")
    assert _children() == before


class _Unpicklable(Exception):
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("not picklable")


def _refuse_oddly(number: int) -> int:
    raise _Unpicklable(f"odd job {number}")


def _die(number: int) -> int:
    import os

    os._exit(3)


def test_a_failure_that_cannot_be_sent_back_is_told_by_its_text() -> None:
    with (
        pytest.raises(RuntimeError, match="_Unpicklable: odd job 7"),
        forked_soon(_refuse_oddly, [7]) as results,
    ):
        results()


def test_a_worker_that_dies_is_told() -> None:
    before = _children()
    with (
        pytest.raises(RuntimeError, match=r"a worker stopped \(exit code 3\)"),
        forked_soon(_die, [1]) as results,
    ):
        results()
    assert _children() == before


def test_the_collector_is_paused_in_the_block_and_its_forks_and_restored_after() -> None:
    import gc

    from isg.forks import collector_paused, fork_map

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        assert list(fork_map(_collector_enabled, [1, 2, 3, 4])) == [False] * 4
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        _ = 1 / 0
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def _collector_enabled(_: int) -> bool:
    import gc

    return gc.isenabled()


def _large(size: int) -> bytes:
    return b"x" * size


def test_an_answer_larger_than_a_pipe_holds_comes_back_whole() -> None:
    with forked_soon(_large, [3_000_000, 10]) as results:
        assert results() == [b"x" * 3_000_000, b"x" * 10]


class _TwoArguments(Exception):
    def __init__(self, first: int, second: int) -> None:
        super().__init__(f"{first} and {second}")


def _refuse_with_two(number: int) -> int:
    raise _TwoArguments(number, number + 1)


def test_a_failure_whose_pickle_does_not_load_is_told() -> None:
    with (
        pytest.raises(RuntimeError, match="a worker's answer could not be read"),
        forked_soon(_refuse_with_two, [4]) as results,
    ):
        results()
