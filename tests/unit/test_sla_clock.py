"""Elapsed working time and deadlines: the document's examples, edges, pauses, and a
minute-by-minute reference implementation checked by hypothesis."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FRANCE_CALENDAR
from isg.business_calendar import TWENTY_FOUR_SEVEN, WorkingCalendar, calendar_from_record
from isg.sla.clock import Pause, compute_deadline, elapsed_working_time, ledger
from isg.sla.durations import DurationError, parse_duration
from isg.sla.policy import margin_time

PARIS = ZoneInfo("Europe/Paris")
FRANCE = calendar_from_record("FR", FRANCE_CALENDAR)
# The document's example speaks of plain office hours in CET.
CET_OFFICE = calendar_from_record(
    "CET",
    {
        "timezone": "Europe/Amsterdam",
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "working_hours": ["09:00-17:00"],
        "hours_per_day": 8,
    },
)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def deadline(calendar: WorkingCalendar, start: datetime, text: str, **kw: object) -> datetime:
    target = parse_duration(text).working_time(calendar)
    return compute_deadline(calendar, start, target, **kw).astimezone(calendar.zone)  # type: ignore[arg-type]


def test_documents_example_priority_2_analysis_in_two_days() -> None:
    # "if the incident is reported on Monday 15:15h CET, the analysis has to be completed by
    # Wednesday 15:14h CET": late from 15:15.
    start = datetime(2026, 3, 2, 15, 15, tzinfo=ZoneInfo("Europe/Amsterdam"))
    due = deadline(CET_OFFICE, start, "2d")
    assert due.isoformat() == "2026-03-04T15:15:00+01:00"
    target = parse_duration("2d").working_time(CET_OFFICE)
    assert elapsed_working_time(CET_OFFICE, start, due - timedelta(minutes=1)) < target
    assert elapsed_working_time(CET_OFFICE, start, due) == target


def test_documents_example_holds_with_a_lunch_break() -> None:
    assert deadline(FRANCE, paris(2026, 3, 2, 15, 15), "2d") == paris(2026, 3, 4, 15, 15)


def test_documents_margin_example_ten_minutes_plus_25_percent() -> None:
    target = parse_duration("10m").working_time(FRANCE)
    assert margin_time(target, 0.25) == timedelta(minutes=12, seconds=30)
    start = paris(2026, 3, 2, 9, 0)
    assert compute_deadline(FRANCE, start, margin_time(target, 0.25)) == paris(
        2026, 3, 2, 9, 12, 30
    )


def test_priority_4_solution_of_one_and_a_half_weeks() -> None:
    # 1.5w = 7.5 working days of 7.5 hours = 56h15m.
    assert parse_duration("1.5w").working_time(FRANCE) == timedelta(hours=56, minutes=15)
    # From Monday 2 March 09:00: five days to Friday, Monday and Tuesday, then 3h45 on
    # Wednesday: the 3h30 morning and 15 minutes after lunch.
    assert deadline(FRANCE, paris(2026, 3, 2, 9, 0), "1.5w") == paris(2026, 3, 11, 13, 45)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("4h", timedelta(hours=4)),
        ("3.5d", timedelta(hours=26, minutes=15)),
        ("4.5w", timedelta(hours=168, minutes=45)),
        ("0.5h", timedelta(minutes=30)),
    ],
)
def test_durations_in_a_seven_and_a_half_hour_day(text: str, expected: timedelta) -> None:
    assert parse_duration(text).working_time(FRANCE) == expected


@pytest.mark.parametrize("text", ["2 days", "1,5w", "-1h", "h", "3x", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(paris(2026, 3, 7, 11, 0), paris(2026, 3, 9, 12, 30), id="saturday-start"),
        pytest.param(paris(2026, 3, 2, 7, 0), paris(2026, 3, 2, 12, 30), id="before-opening"),
        pytest.param(paris(2026, 3, 2, 9, 0), paris(2026, 3, 2, 12, 30), id="exactly-at-opening"),
        pytest.param(paris(2026, 3, 2, 17, 30), paris(2026, 3, 3, 12, 30), id="exactly-at-close"),
        pytest.param(paris(2026, 3, 2, 12, 45), paris(2026, 3, 2, 17, 0), id="in-lunch-break"),
        pytest.param(paris(2026, 4, 3, 16, 0), paris(2026, 4, 7, 11, 0), id="over-easter"),
        pytest.param(paris(2026, 12, 24, 11, 0), paris(2026, 12, 28, 11, 0), id="part-closure"),
    ],
)
def test_three_and_a_half_hours_is_one_morning_from_various_starts(
    start: datetime, expected: datetime
) -> None:
    assert deadline(FRANCE, start, "3.5h") == expected


def test_deadline_landing_on_closing_time_is_the_closing_instant() -> None:
    # 09:00-12:30 and 13:30-17:30 is exactly one 7.5-hour day: late from 17:30 that day, so
    # completing the same evening is late although no working time passed.
    start = paris(2026, 3, 2, 9, 0)
    assert deadline(FRANCE, start, "1d") == paris(2026, 3, 2, 17, 30)
    assert elapsed_working_time(FRANCE, start, paris(2026, 3, 2, 20, 0)) == timedelta(hours=7.5)


def test_zero_target_is_due_at_the_start() -> None:
    assert deadline(FRANCE, paris(2026, 3, 7, 11, 0), "0m") == paris(2026, 3, 7, 11, 0)


def test_round_the_clock_calendar() -> None:
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert compute_deadline(TWENTY_FOUR_SEVEN, start, timedelta(hours=8)) == start + timedelta(
        hours=8
    )
    assert parse_duration("1d").working_time(TWENTY_FOUR_SEVEN) == timedelta(hours=24)


def test_dst_week_in_paris_keeps_working_hours() -> None:
    # Friday 27 March 2026 16:30 + 4h: 1h on Friday, 3h on Monday after the switch.
    assert deadline(FRANCE, paris(2026, 3, 27, 16, 30), "4h") == paris(2026, 3, 30, 12, 0)
    assert deadline(FRANCE, paris(2026, 10, 23, 16, 30), "4h") == paris(2026, 10, 26, 12, 0)


# --- pauses ---------------------------------------------------------------------------------


def test_paused_working_time_does_not_count() -> None:
    start = paris(2026, 3, 2, 9, 0)
    pause = Pause(paris(2026, 3, 2, 10, 0), paris(2026, 3, 3, 10, 0), "reporting-state", "logs")
    # 1h before the pause, then from Tuesday 10:00: 2h30 to 12:30, 30 min after lunch.
    assert deadline(FRANCE, start, "4h", pauses=[pause]) == paris(2026, 3, 3, 14, 0)
    assert elapsed_working_time(FRANCE, start, paris(2026, 3, 3, 14, 0), pauses=[pause]) == (
        timedelta(hours=4)
    )


def test_pause_beyond_the_maximum_counts_again() -> None:
    start = paris(2026, 3, 2, 9, 0)
    pause = Pause(paris(2026, 3, 2, 9, 0), None, "third-party", "gateway operator")
    due = compute_deadline(
        FRANCE, start, timedelta(hours=2), pauses=[pause], max_pause=timedelta(hours=1)
    )
    assert due.astimezone(PARIS) == paris(2026, 3, 2, 12, 0)
    rows = [
        (s.counted, s.reason)
        for s in ledger(FRANCE, start, due, pauses=[pause], max_pause=timedelta(hours=1))
    ]
    assert rows == [
        (False, "paused, waiting on the third-party: gateway operator"),
        (True, "pause beyond the maximum pause counts"),
    ]


def test_open_pause_without_maximum_has_no_deadline() -> None:
    from isg.business_calendar import CalendarError

    pause = Pause(paris(2026, 3, 2, 9, 0), None, "reporting-state", "waiting")
    with pytest.raises(CalendarError, match="the clock never runs"):
        compute_deadline(FRANCE, paris(2026, 3, 2, 9, 0), timedelta(hours=1), pauses=[pause])


def test_ledger_explains_every_interval() -> None:
    rows = [
        (s.start.astimezone(PARIS).strftime("%a %H:%M"), s.counted, s.reason)
        for s in ledger(FRANCE, paris(2026, 4, 3, 17, 0), paris(2026, 4, 7, 10, 0))
    ]
    assert rows == [
        ("Fri 17:00", True, ""),
        ("Fri 17:30", False, "outside working hours"),
        ("Sat 00:00", False, "weekend"),
        ("Mon 00:00", False, "public holiday: Easter Monday"),
        ("Tue 00:00", False, "outside working hours"),
        ("Tue 09:00", True, ""),
    ]


# --- a minute-by-minute reference -----------------------------------------------------------

NY_RECORD = {
    "timezone": "America/New_York",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "working_hours": ["08:00-12:00", "13:00-17:30"],
    "hours_per_day": 8.5,
    "holidays": {"country": "US", "subdivision": "DC"},
    "closures": [{"date": "2026-03-10", "hours": ["15:00-17:30"], "reason": "training"}],
}
SIMPLE = calendar_from_record("NY", NY_RECORD)
ORIGIN = datetime(2026, 2, 27, 0, 0, tzinfo=UTC)  # three weeks around the March DST switch
WINDOW_MINUTES = 21 * 24 * 60
_US_HOLIDAYS = {date(2026, 2, 16)}  # no US/DC holiday falls inside the window


def reference_open(minute: datetime) -> bool:
    """Is the minute starting at `minute` working time? Plain wall-clock reasoning."""
    local = minute.astimezone(SIMPLE.zone)
    if local.weekday() >= 5 or local.date() in _US_HOLIDAYS:
        return False
    hm = local.hour * 60 + local.minute
    if local.date() == date(2026, 3, 10) and hm >= 15 * 60:
        return False
    return 8 * 60 <= hm < 12 * 60 or 13 * 60 <= hm < 17 * 60 + 30


OPEN_MINUTES = [reference_open(ORIGIN + timedelta(minutes=i)) for i in range(WINDOW_MINUTES)]


def reference_elapsed(a: int, b: int) -> int:
    return sum(OPEN_MINUTES[a:b])


def reference_deadline(a: int, minutes: int) -> int:
    if minutes == 0:
        return a
    count = 0
    for i in range(a, WINDOW_MINUTES):
        count += OPEN_MINUTES[i]
        if count == minutes:
            return i + 1
    raise AssertionError("outside the window")


def at(minute: int) -> datetime:
    return ORIGIN + timedelta(minutes=minute)


offsets = st.integers(min_value=0, max_value=WINDOW_MINUTES // 2)
targets = st.integers(min_value=0, max_value=3 * 510)


@settings(max_examples=150, deadline=None)
@given(offsets, st.integers(min_value=0, max_value=WINDOW_MINUTES // 2))
def test_elapsed_matches_the_minute_by_minute_reference(a: int, length: int) -> None:
    expected = reference_elapsed(a, a + length)
    assert elapsed_working_time(SIMPLE, at(a), at(a + length)) == timedelta(minutes=expected)


@settings(max_examples=150, deadline=None)
@given(offsets, targets)
def test_deadline_matches_the_reference_and_inverts_elapsed(a: int, minutes: int) -> None:
    due = compute_deadline(SIMPLE, at(a), timedelta(minutes=minutes))
    assert due == at(reference_deadline(a, minutes))
    assert elapsed_working_time(SIMPLE, at(a), due) == timedelta(minutes=minutes)


@settings(max_examples=100, deadline=None)
@given(offsets, offsets, targets, targets)
def test_deadlines_grow_with_start_and_duration(a: int, b: int, m: int, n: int) -> None:
    (a, b), (m, n) = sorted((a, b)), sorted((m, n))
    assert compute_deadline(SIMPLE, at(a), timedelta(minutes=m)) <= compute_deadline(
        SIMPLE, at(b), timedelta(minutes=m)
    )
    assert compute_deadline(SIMPLE, at(a), timedelta(minutes=m)) <= compute_deadline(
        SIMPLE, at(a), timedelta(minutes=n)
    )


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_results_do_not_depend_on_the_process_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        due = compute_deadline(SIMPLE, at(4000), timedelta(hours=20))
        assert due == at(reference_deadline(4000, 20 * 60))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert os.environ.get("TZ") != zone


# --- the cumulative index against the segment walk (the definition) ------------------------
# `elapsed_working_time` and `compute_deadline` answer from the calendar's cumulative working
# time; `ledger` walks the segments one by one. With pauses, a maximum pause and spans of years
# (the index is laid out a year at a time), both must give the same answers.

pause_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=WINDOW_MINUTES // 2),
        st.one_of(st.none(), st.integers(min_value=1, max_value=4000)),
    ),
    max_size=3,
)
max_pauses = st.one_of(st.none(), st.integers(min_value=0, max_value=2000))


def _walk_deadline(
    start: datetime, target: timedelta, pauses: list[Pause], cap: object
) -> datetime:
    from isg.sla.clock import _walk

    if target == timedelta(0):
        return start
    used = timedelta(0)
    for segment in _walk(SIMPLE, start, None, tuple(pauses), cap):  # type: ignore[arg-type]
        if segment.counted:
            if used + segment.length >= target:
                return segment.start + (target - used)
            used += segment.length
    raise AssertionError("unreachable")


@settings(max_examples=150, deadline=None)
@given(offsets, targets, pause_specs, max_pauses, st.integers(min_value=0, max_value=8000))
def test_index_with_pauses_matches_the_segment_walk(
    a: int, minutes: int, specs: list[tuple[int, int | None]], cap: int | None, span: int
) -> None:
    pauses = sorted(
        (Pause(at(a + s), at(a + s + n) if n else None) for s, n in specs),
        key=lambda p: p.start,
    )
    if any(p.end is None for p in pauses[:-1]):
        pauses = [p for p in pauses if p.end is not None]
    max_pause = timedelta(minutes=cap) if cap is not None else None
    end = at(a + span)
    counted = sum(
        (
            s.length
            for s in ledger(SIMPLE, at(a), end, pauses=pauses, max_pause=max_pause)
            if s.counted
        ),
        timedelta(0),
    )
    assert elapsed_working_time(SIMPLE, at(a), end, pauses=pauses, max_pause=max_pause) == counted
    target = timedelta(minutes=minutes)
    open_forever = max_pause is None and any(p.end is None for p in pauses)
    if not open_forever:
        due = compute_deadline(SIMPLE, at(a), target, pauses=pauses, max_pause=max_pause)
        assert due == _walk_deadline(at(a), target, pauses, max_pause)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (paris(2019, 12, 31, 17, 0), paris(2020, 1, 2, 10, 0)),  # across a year's end
        (paris(2016, 6, 1, 9, 0), paris(2026, 6, 1, 9, 0)),  # ten years
        (paris(2026, 3, 27, 12, 0), paris(2026, 3, 30, 12, 0)),  # the DST weekend
    ],
)
def test_index_agrees_with_the_walk_over_years(start: datetime, end: datetime) -> None:
    counted = sum((s.length for s in ledger(FRANCE, start, end) if s.counted), timedelta(0))
    assert elapsed_working_time(FRANCE, start, end) == counted
    assert compute_deadline(FRANCE, start, counted) <= end
    assert elapsed_working_time(FRANCE, start, compute_deadline(FRANCE, start, counted)) == counted


@pytest.mark.parametrize("zone", ["America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_index_agrees_with_the_walk_in_unusual_zones(zone: str) -> None:
    # Santiago switches at midnight, Lord Howe by half an hour, Kolkata never.
    calendar = calendar_from_record(
        zone,
        {
            "timezone": zone,
            "working_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
            "working_hours": ["00:00-02:30", "09:00-17:00", "23:00-24:00"],
            "hours_per_day": 11.5,
        },
    )
    start, end = datetime(2025, 12, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    counted = sum((s.length for s in ledger(calendar, start, end) if s.counted), timedelta(0))
    assert elapsed_working_time(calendar, start, end) == counted
    assert compute_deadline(calendar, start, counted) <= end


@settings(max_examples=150, deadline=None)
@given(offsets, targets, st.integers(min_value=0, max_value=WINDOW_MINUTES // 2), st.booleans())
def test_a_span_answers_as_the_calendar_does(a: int, minutes: int, length: int, grow: bool) -> None:
    """A `Span` remembers where its start is in the index; growing the index backwards in
    between (an older incident) must not change its answers."""
    calendar = calendar_from_record("NY2", {**NY_RECORD})
    span = calendar.span(at(a))
    if grow:
        calendar.working_between(datetime(2019, 1, 1, tzinfo=UTC), at(a))
    target = timedelta(minutes=minutes)
    assert span.deadline(target) == compute_deadline(SIMPLE, at(a), target)
    assert span.elapsed(at(a + length)) == elapsed_working_time(SIMPLE, at(a), at(a + length))
