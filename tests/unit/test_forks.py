"""Work shared out over forked processes (isg.forks)."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from isg.forks import forked_soon


def _square(number: int) -> int:
    return number * number


def _refuse(number: int) -> int:
    raise ValueError(f"job {number} refused")


def _sleep(seconds: int) -> int:
    time.sleep(seconds)
    return seconds


def test_forked_soon_gives_the_results_in_the_order_of_the_jobs() -> None:
    with forked_soon(_square, [3, 1, 2, 5]) as results:
        assert results() == [9, 1, 4, 25]
    assert multiprocessing.active_children() == []


def test_a_job_that_fails_fails_the_results() -> None:
    with pytest.raises(ValueError, match="job 2 refused"), forked_soon(_refuse, [2]) as results:
        results()
    assert multiprocessing.active_children() == []


def test_leaving_by_an_exception_stops_the_workers() -> None:
    with pytest.raises(RuntimeError, match="planning failed"), forked_soon(_sleep, [600, 600]):
        raise RuntimeError("planning failed")
    assert multiprocessing.active_children() == []
