"""Working calendars: days, holidays, closures, extra days and DST, as instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import FRANCE_CALENDAR
from isg.business_calendar import WorkingCalendar, calendar_from_record
from isg.sla.clock import elapsed_working_time

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")

FRANCE = calendar_from_record(
    "FR",
    {
        **FRANCE_CALENDAR,
        "closures": [
            *FRANCE_CALENDAR["closures"],  # type: ignore[misc]
            {"date": "2026-12-31", "reason": "Year-end closure"},
        ],
        "extra_working_days": [
            {"date": "2026-12-26", "hours": ["09:00-12:00"], "reason": "Release weekend"}
        ],
    },
)


def _plan(calendar: WorkingCalendar, day: date) -> list[tuple[str, str, bool, str]]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=calendar.zone)
    return [
        (
            s.start.astimezone(calendar.zone).strftime("%H:%M"),
            s.end.astimezone(calendar.zone).strftime("%d %H:%M"),
            s.counted,
            s.reason,
        )
        for s in calendar.segments(start, start + timedelta(days=1))
    ]


def test_a_working_day_with_a_lunch_break() -> None:
    assert _plan(FRANCE, date(2026, 3, 2)) == [
        ("00:00", "02 09:00", False, "outside working hours"),
        ("09:00", "02 12:30", True, ""),
        ("12:30", "02 13:30", False, "outside working hours"),
        ("13:30", "02 17:30", True, ""),
        ("17:30", "03 00:00", False, "outside working hours"),
    ]


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 3, 7), "weekend"),
        (date(2026, 4, 6), "public holiday: Easter Monday"),
        (date(2026, 12, 25), "public holiday: Christmas Day"),
        (date(2026, 12, 31), "closed: Year-end closure"),
    ],
)
def test_closed_days_say_why(day: date, reason: str) -> None:
    next_day = day + timedelta(days=1)
    assert _plan(FRANCE, day) == [("00:00", f"{next_day.day:02d} 00:00", False, reason)]


def test_part_day_closure_cuts_the_afternoon() -> None:
    assert _plan(FRANCE, date(2026, 12, 24))[1:4] == [
        ("09:00", "24 12:30", True, ""),
        ("12:30", "24 13:30", False, "outside working hours"),
        ("13:30", "24 17:30", False, "closed: Christmas Eve"),
    ]


def test_extra_working_day_overrides_the_weekend() -> None:
    assert _plan(FRANCE, date(2026, 12, 26))[1] == ("09:00", "26 12:00", True, "")


@pytest.mark.parametrize(
    ("zone", "day", "local_hours"),
    [
        pytest.param("Europe/Paris", date(2026, 3, 29), 23, id="paris-spring-forward"),
        pytest.param("Europe/Paris", date(2026, 10, 25), 25, id="paris-fall-back"),
        pytest.param("America/New_York", date(2026, 3, 8), 23, id="new-york-spring-forward"),
        pytest.param("America/New_York", date(2026, 11, 1), 25, id="new-york-fall-back"),
    ],
)
def test_a_round_the_clock_calendar_counts_real_hours_on_dst_days(
    zone: str, day: date, local_hours: int
) -> None:
    calendar = calendar_from_record(
        zone,
        {
            "timezone": zone,
            "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "working_hours": ["00:00-24:00"],
            "hours_per_day": 24,
        },
    )
    start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone))
    assert elapsed_working_time(calendar, start, end) == timedelta(hours=local_hours)


def test_office_hours_stay_eight_hours_across_dst() -> None:
    calendar = calendar_from_record(
        "US",
        {
            "timezone": "America/New_York",
            "working_days": ["mon", "tue", "wed", "thu", "fri"],
            "working_hours": ["09:00-17:00"],
            "hours_per_day": 8,
        },
    )
    # Friday 6 March to Monday 9 March 2026 spans the spring-forward Sunday.
    friday = datetime(2026, 3, 6, 9, 0, tzinfo=NEW_YORK)
    monday = datetime(2026, 3, 9, 17, 0, tzinfo=NEW_YORK)
    assert elapsed_working_time(calendar, friday, monday) == timedelta(hours=16)
    assert monday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=79)


def test_segments_need_aware_times() -> None:
    from isg.business_calendar import CalendarError

    with pytest.raises(CalendarError, match="has no UTC offset"):
        next(FRANCE.segments(datetime(2026, 3, 2, 9, 0)))


def test_instants_are_utc_whatever_the_input_offset() -> None:
    paris = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
    utc = paris.astimezone(UTC)
    end = datetime(2026, 3, 2, 12, 0, tzinfo=PARIS)
    assert elapsed_working_time(FRANCE, paris, end) == elapsed_working_time(FRANCE, utc, end)
