"""Working time of a jurisdiction: which instants count, and why the others do not.

A `WorkingCalendar` turns a State's `calendar` record into instants. The rules:

* Working intervals are half-open, ``[open, close)``: a clock running at 17:29:59 is open, at
  17:30 (closing) it is not.
* Local times are turned into instants with the calendar's IANA zone, day by day, so a DST
  switch simply makes that day's local midnight-to-midnight 23 or 25 hours long while
  09:00-17:00 stays eight working hours. A range boundary that falls in a DST gap (02:30 on
  the spring-forward night) is read with the offset in force before the gap; a range that
  becomes empty that way is dropped.
* A date is a working day when it is an extra working day; otherwise not when it is closed
  all day, a public holiday (the `holidays` package, country and subdivision) or not one of
  the working days; otherwise it is. Extra working days override holidays and weekends.
* Part-day closures remove their ranges from that day's working hours.

Every instant between two times falls in exactly one `Segment`, counted or not, with the
reason a person would give ("weekend", "public holiday: Whit Monday", "closed: ...").
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from isg.errors import IsgError

Minutes = tuple[int, int]  # [start, end) in minutes after local midnight; end may be 1440
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OUTSIDE_HOURS = "outside working hours"
MAX_SEARCH_DAYS = 3660  # a deadline further than ten years away means no working time at all


class CalendarError(IsgError):
    """A calendar cannot be built or has no working time."""


@dataclass(frozen=True)
class Segment:
    """A stretch of time, counted as working time or not, with the reason."""

    start: datetime
    end: datetime
    counted: bool
    reason: str

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, eq=False)  # identity equality: a calendar is a cache key
class WorkingCalendar:
    """Working time of one jurisdiction (see the module docstring for the rules)."""

    name: str
    zone: ZoneInfo
    working_days: frozenset[int]
    hours: tuple[Minutes, ...]
    hours_per_day: float
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closures: Mapping[date, tuple[tuple[Minutes, ...] | None, str]] = field(default_factory=dict)
    extra_days: Mapping[date, tuple[tuple[Minutes, ...], str]] = field(default_factory=dict)
    always_open: bool = False

    @property
    def working_day(self) -> timedelta:
        """The length of `1d` in this calendar."""
        return timedelta(hours=self.hours_per_day)

    def holiday(self, day: date) -> str | None:
        if self.holiday_country is None:
            return None
        name = _holidays(self.holiday_country, self.holiday_subdivision, day.year).get(day)
        return str(name) if name else None

    def day_plan(self, day: date) -> tuple[list[tuple[Minutes, bool, str]], str]:
        """The ranges of `day` that are open (True) or closed for a stated reason (False),
        and the reason for the rest of the day."""
        extra = self.extra_days.get(day)
        if extra is not None:
            ranges, _ = extra
            return [(r, True, "") for r in (ranges or self.hours)], OUTSIDE_HOURS
        closure = self.closures.get(day)
        if closure is not None and closure[0] is None:
            return [], f"closed: {closure[1]}"
        holiday = self.holiday(day)
        if holiday:
            return [], f"public holiday: {holiday}"
        if day.weekday() not in self.working_days:
            return [], "weekend" if day.weekday() >= 5 else "not a working day"
        if closure is None:
            return [(r, True, "") for r in self.hours], OUTSIDE_HOURS
        closed_ranges, reason = closure
        return _subtract(self.hours, closed_ranges or (), f"closed: {reason}"), OUTSIDE_HOURS

    def segments(self, start: datetime, end: datetime | None = None) -> Iterator[Segment]:
        """Consecutive segments from `start` (to `end`, or for ever), split at local days."""
        _require_aware(start)
        # Work in UTC: subtracting two datetimes that share a ZoneInfo gives the wall-clock
        # difference, which is wrong across a DST switch.
        start = start.astimezone(UTC)
        end = end.astimezone(UTC) if end is not None else None
        if self.always_open:
            yield Segment(start, end or datetime.max.replace(tzinfo=UTC), True, "")
            return
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        cursor = start
        for _ in range(MAX_SEARCH_DAYS):
            for segment in self._day_segments(day):
                seg_start = max(segment.start, cursor)
                seg_end = segment.end if end is None else min(segment.end, end)
                if seg_end > seg_start:
                    yield Segment(seg_start, seg_end, segment.counted, segment.reason)
                    cursor = seg_end
                if end is not None and cursor >= end:
                    return
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name} has no working time for ten years")

    def _day_segments(self, day: date) -> tuple[Segment, ...]:
        return _cached_day_segments(self, day)

    def _compute_day_segments(self, day: date) -> tuple[Segment, ...]:
        plan, rest = self.day_plan(day)
        day_start, day_end = self._instant(day, 0), self._instant(day, 24 * 60)
        result, cursor = [], day_start
        for (lo, hi), counted, reason in sorted(plan):
            seg_start, seg_end = max(self._instant(day, lo), cursor), self._instant(day, hi)
            if seg_end <= seg_start:
                continue  # emptied by a DST gap
            if seg_start > cursor:
                result.append(Segment(cursor, seg_start, False, rest))
            result.append(Segment(seg_start, seg_end, counted, reason))
            cursor = seg_end
        if day_end > cursor:
            result.append(Segment(cursor, day_end, False, rest))
        return tuple(result)

    def _instant(self, day: date, minutes: int) -> datetime:
        extra_days, minutes = divmod(minutes, 24 * 60)
        local = datetime.combine(day + timedelta(days=extra_days), time(*divmod(minutes, 60)))
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    # Cumulative working time. Walking the calendar day by day costs O(days) per question,
    # and an SLA run asks three questions per milestone of tens of thousands of incidents,
    # some open for years. The counted intervals of whole years are laid out once, with the
    # working time before each, so "how much working time between a and b" and "when has w
    # of working time passed since a" are binary searches. Instants are integer microseconds
    # since the Unix epoch, so the arithmetic is exact. `segments` stays the definition (it
    # also gives the reasons); tests/unit/test_sla_clock.py holds both to the same answers.

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Counted time in [start, end) (zero if end <= start)."""
        _require_aware(start)
        _require_aware(end)
        a, b = to_micros(start), to_micros(end)
        if b <= a:
            return timedelta(0)
        if self.always_open:
            return timedelta(microseconds=b - a)
        index = _index(self)
        index.cover(a, b)
        return timedelta(microseconds=index.worked(b) - index.worked(a))

    def advance(self, start: datetime, work: timedelta) -> datetime:
        """The first instant at which `work` of counted time has passed since `start`."""
        _require_aware(start)
        a, w = to_micros(start), work // MICROSECOND
        if w <= 0:
            return start.astimezone(UTC)
        if self.always_open:
            return from_micros(a + w)
        index = _index(self)
        index.cover(a, a)
        limit = a + MAX_SEARCH_DAYS * DAY_MICROS
        while True:
            goal = index.worked(a) + w
            if goal <= index.total:
                return from_micros(index.instant_at(goal))
            if index.end >= limit:
                raise CalendarError(f"calendar {self.name} has no working time for ten years")
            index.cover(index.end, index.end)  # one more year

    def span(self, start: datetime) -> Span:
        """Working time counted from `start`, for many questions about the same start."""
        return Span(self, start)


class Span:
    """`advance(start, w)` and `working_between(start, end)` for one `start`, with the start's
    place in the cumulative index found once (an SLA run asks five or more questions of every
    incident's `reported_at`)."""

    def __init__(self, calendar: WorkingCalendar, start: datetime) -> None:
        _require_aware(start)
        self.calendar = calendar
        self.start = start
        self.micros = to_micros(start)
        self.index = None if calendar.always_open else _index(calendar)
        self.base = 0
        if self.index is not None:
            self.index.cover(self.micros, self.micros)
            self.base = self.index.worked(self.micros)
            self.begin = self.index.begin  # the index's origin moves if it grows backwards

    def deadline(self, work: timedelta) -> datetime:
        index, w = self.index, work // MICROSECOND
        if index is None or w <= 0 or index.begin != self.begin:
            return self.calendar.advance(self.start, work)
        goal = self.base + w
        if goal > index.total:
            return self.calendar.advance(self.start, work)  # grows the index
        return from_micros(index.instant_at(goal))

    def elapsed(self, end: datetime) -> timedelta:
        index, b = self.index, to_micros(end)
        if index is None or b <= self.micros or index.begin != self.begin or b >= index.end:
            return self.calendar.working_between(self.start, end)
        return timedelta(microseconds=index.worked(b) - self.base)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DAY_MICROS = 86_400_000_000
MINUTE_MICROS = 60_000_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact)."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class _CumulativeIndex:
    """The counted intervals of a calendar over whole local years, with the working time
    before each one. Grows a year at a time in either direction."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.years: dict[int, list[tuple[int, int]]] = {}
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.before: list[int] = []  # working time before interval k
        self.after: list[int] = []  # working time up to the end of interval k
        self.begin = self.end = 0  # the instants covered: [begin, end)
        self.total = 0

    def cover(self, a: int, b: int) -> None:
        """Make sure [a, b] is laid out (b may equal the end: then one more year)."""
        if self.years and self.begin <= a and b < self.end:
            return
        zone = self.calendar.zone
        first = from_micros(a).astimezone(zone).year
        last = from_micros(b).astimezone(zone).year
        if self.years:
            first, last = min(first, min(self.years)), max(last, max(self.years))
        for year in range(first, last + 1):
            if year not in self.years:
                self.years[year] = self._year(year)
        self._lay_out(first, last)

    def _year(self, year: int) -> list[tuple[int, int]]:
        calendar, zone = self.calendar, self.calendar.zone
        day, intervals = date(year, 1, 1), []
        midnight = datetime(year, 1, 1, tzinfo=zone).utcoffset()
        while day.year == year:
            following = day + timedelta(days=1)
            next_midnight = datetime.combine(following, time(), tzinfo=zone).utcoffset()
            if midnight != next_midnight:  # a DST switch inside the day: the careful way
                for segment in calendar._day_segments(day):
                    if segment.counted:
                        intervals.append((to_micros(segment.start), to_micros(segment.end)))
            else:  # one UTC offset all day: local minutes are plain arithmetic
                plan, _ = calendar.day_plan(day)
                assert midnight is not None
                base = (following.toordinal() - 1 - EPOCH_ORDINAL) * DAY_MICROS
                base -= midnight // MICROSECOND
                for (lo, hi), counted, _ in sorted(plan):
                    if counted and hi > lo:
                        intervals.append((base + lo * MINUTE_MICROS, base + hi * MINUTE_MICROS))
            day, midnight = following, next_midnight
        return intervals

    def _lay_out(self, first: int, last: int) -> None:
        self.starts, self.ends, self.before, self.after = [], [], [], []
        total = 0
        for year in range(first, last + 1):
            for lo, hi in self.years[year]:
                if self.ends and self.ends[-1] == lo:  # continues across midnight
                    self.ends[-1] = hi
                    total += hi - lo
                    self.after[-1] = total
                    continue
                self.starts.append(lo)
                self.ends.append(hi)
                self.before.append(total)
                total += hi - lo
                self.after.append(total)
        self.total = total
        self.begin = to_micros(self.calendar._instant(date(first, 1, 1), 0))
        self.end = to_micros(self.calendar._instant(date(last + 1, 1, 1), 0))

    def worked(self, t: int) -> int:
        """Working time from the start of the index to `t` (within the index)."""
        k = bisect_right(self.starts, t) - 1
        if k < 0:
            return 0
        return self.before[k] + min(t, self.ends[k]) - self.starts[k]

    def instant_at(self, goal: int) -> int:
        """The first instant at which the working time from the start reaches `goal` > 0."""
        k = bisect_left(self.after, goal)
        return self.starts[k] + (goal - self.before[k])


_INDEXES: dict[WorkingCalendar, _CumulativeIndex] = {}


def _index(calendar: WorkingCalendar) -> _CumulativeIndex:
    index = _INDEXES.get(calendar)
    if index is None:
        index = _INDEXES[calendar] = _CumulativeIndex(calendar)
    return index


@lru_cache(maxsize=500_000)
def _cached_day_segments(calendar: WorkingCalendar, day: date) -> tuple[Segment, ...]:
    """A day's segments, computed once per calendar and day (SLA runs revisit the same days
    for every milestone of every incident)."""
    return calendar._compute_day_segments(day)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise CalendarError(f"{moment.isoformat()} has no UTC offset")


def _subtract(
    hours: tuple[Minutes, ...], closed: tuple[Minutes, ...], reason: str
) -> list[tuple[Minutes, bool, str]]:
    """Working `hours` with `closed` ranges cut out and labelled with `reason`."""
    result: list[tuple[Minutes, bool, str]] = []
    for lo, hi in hours:
        cuts = sorted((max(lo, a), min(hi, b)) for a, b in closed if a < hi and b > lo)
        cursor = lo
        for a, b in cuts:
            if a > cursor:
                result.append(((cursor, a), True, ""))
            result.append(((max(a, cursor), b), False, reason))
            cursor = max(cursor, b)
        if cursor < hi:
            result.append(((cursor, hi), True, ""))
    return [item for item in result if item[0][0] < item[0][1]]


HolidayKey = tuple[str, str | None, int]  # country, subdivision, year
# Public holidays worked out before (`seed_holidays`) and in this process: the `holidays`
# package imports every country's module on first use (~0.4 s of each run that counts
# working time), so the SLA store keeps them (`sla.memory.SlaMemory`).
_SEEDED: dict[HolidayKey, dict[date, str]] = {}
_WORKED_OUT: dict[HolidayKey, dict[date, str]] = {}


def seed_holidays(known: Mapping[HolidayKey, Mapping[date, str]]) -> None:
    """Public holidays as `holidays` gave them in an earlier run (with the same version)."""
    _SEEDED.update((key, dict(days)) for key, days in known.items())


def take_holidays_worked_out() -> dict[HolidayKey, dict[date, str]]:
    """The public holidays this process asked `holidays` for since the last call."""
    found = dict(_WORKED_OUT)
    _WORKED_OUT.clear()
    return found


@cache
def _holidays(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    key = (country, subdivision, year)
    found = _SEEDED.get(key)
    if found is None:
        import holidays  # ~0.4 s: it imports every country's module

        days = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
        found = _WORKED_OUT[key] = {day: str(name) for day, name in days.items()}
    return found


def parse_ranges(texts: Any) -> tuple[Minutes, ...]:
    """`['09:00-12:30', '13:30-17:30']` -> `((540, 750), (810, 1050))`."""
    result = []
    for text in texts or ():
        lo, hi = str(text).split("-", 1)
        result.append((_minutes(lo), _minutes(hi)))
    return tuple(result)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


TWENTY_FOUR_SEVEN = WorkingCalendar(
    name="24x7",
    zone=ZoneInfo("UTC"),
    working_days=frozenset(range(7)),
    hours=((0, 24 * 60),),
    hours_per_day=24,
    always_open=True,
)


def calendar_from_record(name: str, calendar: Mapping[str, Any]) -> WorkingCalendar:
    """Build the calendar of a State record's `calendar` mapping (already schema-valid)."""
    try:
        spec = calendar.get("holidays") or {}
        closures = {
            date.fromisoformat(c["date"]): (
                parse_ranges(c["hours"]) if c.get("hours") else None,
                c["reason"],
            )
            for c in calendar.get("closures") or ()
        }
        extra = {
            date.fromisoformat(e["date"]): (parse_ranges(e.get("hours")), e["reason"])
            for e in calendar.get("extra_working_days") or ()
        }
        return WorkingCalendar(
            name=name,
            zone=ZoneInfo(calendar["timezone"]),
            working_days=frozenset(DAY_NAMES.index(d) for d in calendar["working_days"]),
            hours=parse_ranges(calendar["working_hours"]),
            hours_per_day=float(calendar["hours_per_day"]),
            holiday_country=spec.get("country"),
            holiday_subdivision=spec.get("subdivision"),
            closures=closures,
            extra_days=extra,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise CalendarError(f"calendar {name} cannot be used: {exc}") from None
