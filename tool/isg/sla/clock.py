"""Elapsed working time, deadlines and the ledger that explains them.

Rules (see docs/SLA.md for worked examples):

* The clock starts at `start` (an incident's `reported_at`); time outside working hours
  simply does not count, so a report made at night starts counting at the next opening.
* Elapsed working time between two instants is the sum of the counted segments between them.
* A milestone is met when the elapsed working time from the start to its completion is less
  than the target. The deadline is therefore the first instant at which the elapsed time
  reaches the target: completing at the deadline is late. When the target is used up exactly
  at closing time, the deadline *is* the closing instant, and completing that evening is late.
* Pauses: working time inside a pause interval does not count, up to `max_pause` of paused
  working time per incident; beyond that the clock runs again. An open pause (no end) has to
  be closed by the caller (at `now`) to get a finite deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from isg.business_calendar import CalendarError, Segment, WorkingCalendar

FOREVER = datetime.max.replace(tzinfo=UTC)
BEYOND_MAX_PAUSE = "pause beyond the maximum pause counts"


@dataclass(frozen=True)
class Pause:
    """An interval in which the clock waits on someone other than the Service Provider."""

    start: datetime
    end: datetime | None
    waiting_on: str = "reporting-state"
    reason: str = ""

    def until(self, moment: datetime) -> Pause:
        """This pause with an open end closed at `moment`."""
        if self.end is not None or moment <= self.start:
            return self
        return Pause(self.start, moment, self.waiting_on, self.reason)

    def in_utc(self) -> Pause:
        end = self.end.astimezone(UTC) if self.end is not None else None
        return Pause(self.start.astimezone(UTC), end, self.waiting_on, self.reason)

    @property
    def label(self) -> str:
        return f"paused, waiting on the {self.waiting_on}: {self.reason}"


def ledger(
    calendar: WorkingCalendar,
    start: datetime,
    end: datetime,
    *,
    pauses: Iterable[Pause] = (),
    max_pause: timedelta | None = None,
) -> list[Segment]:
    """Every segment of [start, end), counted or not, with its reason."""
    if end <= start:
        return []
    merged: list[Segment] = []
    for segment in _walk(calendar, start, end, tuple(pauses), max_pause):
        last = merged[-1] if merged else None
        if last and (last.counted, last.reason) == (segment.counted, segment.reason):
            merged[-1] = Segment(last.start, segment.end, last.counted, last.reason)
        else:
            merged.append(segment)
    return merged


def elapsed_working_time(
    calendar: WorkingCalendar,
    start: datetime,
    end: datetime,
    *,
    pauses: Iterable[Pause] = (),
    max_pause: timedelta | None = None,
) -> timedelta:
    """Working time that counts between `start` and `end` (zero if `end` <= `start`).

    Equal to the counted segments of `ledger` (a test holds them together), computed from
    the calendar's cumulative working time instead of a walk.
    """
    if end <= start:
        return timedelta(0)
    worked = calendar.working_between(start, end)
    excluded = sum(
        (
            min(hi, worked) - lo
            for lo, hi in _paused_work(calendar, start, pauses, max_pause)
            if lo < worked
        ),
        timedelta(0),
    )
    return worked - excluded


def compute_deadline(
    calendar: WorkingCalendar,
    start: datetime,
    target: timedelta,
    *,
    pauses: Iterable[Pause] = (),
    max_pause: timedelta | None = None,
) -> datetime:
    """The first instant at which `target` of working time has elapsed since `start`.

    A zero target is due at `start`. Raises `CalendarError` if the calendar has no working
    time left (for example an open pause with no maximum).
    """
    if target <= timedelta(0):
        return start.astimezone(UTC)
    goal = target  # working time since start, pauses included, at which the target is met
    for lo, hi in _paused_work(calendar, start, pauses, max_pause):
        if lo >= goal:
            break
        if hi == FOREVER_WORK:
            goal = FOREVER_WORK
            break
        goal += hi - lo
    try:
        if goal != FOREVER_WORK:
            return calendar.advance(start, goal)
    except CalendarError:
        pass
    raise CalendarError(
        f"no deadline within ten years in calendar {calendar.name}: the clock never runs"
        " (an open pause with no maximum?)"
    )


FOREVER_WORK = timedelta.max


def _paused_work(
    calendar: WorkingCalendar,
    start: datetime,
    pauses: Iterable[Pause],
    max_pause: timedelta | None,
) -> list[tuple[timedelta, timedelta]]:
    """The stretches of working time (measured from `start`) that the pauses take out.

    Pauses are merged where they overlap, clipped to `start`, and spend the `max_pause`
    allowance in order; an open pause with no maximum takes out everything after it
    (`FOREVER_WORK`).
    """
    pauses = tuple(pauses)
    if not pauses:
        return []
    merged: list[tuple[datetime, datetime | None]] = []  # None: still open
    for pause in sorted((p.in_utc() for p in pauses), key=lambda p: p.start):
        lo, hi = max(pause.start, start), pause.end
        if hi is not None and hi <= lo:
            continue
        if merged:
            last_lo, last_hi = merged[-1]
            if last_hi is None:
                continue  # the open pause before already takes out everything after it
            if lo <= last_hi:
                merged[-1] = (last_lo, None if hi is None else max(last_hi, hi))
                continue
        merged.append((lo, hi))
    left = max_pause
    stretches: list[tuple[timedelta, timedelta]] = []
    for lo, hi in merged:
        offset = calendar.working_between(start, lo)
        if hi is None:
            length = FOREVER_WORK if left is None else left
        else:
            length = calendar.working_between(lo, hi)
            if left is not None:
                length = min(length, left)
        if left is not None:
            left -= length
        if length > timedelta(0):
            stretches.append((offset, FOREVER_WORK if length == FOREVER_WORK else offset + length))
        if length == FOREVER_WORK:
            break
    return stretches


def _walk(
    calendar: WorkingCalendar,
    start: datetime,
    end: datetime | None,
    pauses: tuple[Pause, ...],
    max_pause: timedelta | None,
) -> Iterator[Segment]:
    ordered = sorted((p.in_utc() for p in pauses), key=lambda p: p.start)
    paused = timedelta(0)
    for segment in calendar.segments(start, end):
        if not segment.counted or not ordered:
            yield segment
            continue
        cursor = segment.start
        for pause in ordered:
            lo, hi = max(pause.start, cursor), min(pause.end or FOREVER, segment.end)
            if hi <= lo:
                continue
            if lo > cursor:
                yield Segment(cursor, lo, True, "")
            allowed = hi - lo if max_pause is None else max(max_pause - paused, timedelta(0))
            stop = lo + min(hi - lo, allowed)
            if stop > lo:
                yield Segment(lo, stop, False, pause.label)
                paused += stop - lo
            if hi > stop:
                yield Segment(stop, hi, True, BEYOND_MAX_PAUSE)
            cursor = hi
        if cursor < segment.end:
            yield Segment(cursor, segment.end, True, "")
