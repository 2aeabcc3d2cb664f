"""Durations of the service-level policy.

`m` and `h` are working minutes and hours; `d` is one working day of the calendar's
`hours_per_day` working hours; `w` is five working days. Fractions are allowed (`3.5d`,
`1.5w`, `4.5w`, as the document writes them). So in a calendar with 7.5-hour days, `2d` is
15 working hours and `1.5w` is 56.25 working hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache

from isg.business_calendar import WorkingCalendar
from isg.errors import IsgError

_DURATION = re.compile(r"(?P<amount>[0-9]+(?:\.[0-9]+)?)(?P<unit>[mhdw])")
WEEK_DAYS = 5


class DurationError(IsgError):
    """Text that is not a policy duration."""


@dataclass(frozen=True)
class Duration:
    """A policy duration such as `3.5d`, kept as written."""

    amount: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def working_time(self, calendar: WorkingCalendar) -> timedelta:
        """How much working time this is in `calendar` (exact to the microsecond)."""
        return _working_time(self.amount, self.unit, calendar.hours_per_day)


@lru_cache(maxsize=4096)
def _working_time(amount: Decimal, unit: str, hours_per_day: float) -> timedelta:
    # Asked for every milestone of every incident with the same few answers.
    minutes = {
        "m": Decimal(1),
        "h": Decimal(60),
        "d": Decimal(60) * Decimal(str(hours_per_day)),
        "w": Decimal(60) * Decimal(str(hours_per_day)) * WEEK_DAYS,
    }[unit]
    return timedelta(microseconds=int(amount * minutes * 60_000_000))


def parse_duration(text: str) -> Duration:
    """`'3.5d'` -> `Duration(Decimal('3.5'), 'd')`; anything else raises `DurationError`."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise DurationError(
            f"'{text}' is not a duration; write a number and m, h, d or w, e.g. 3.5d"
        )
    return Duration(Decimal(match["amount"]), match["unit"])
