"""Milestone times checked against when git first recorded them.

A milestone's time is claimed by whoever edits the record; the commit that first recorded it
is evidence nobody can quietly change on main. A claim is flagged when git has it *before*
the time it claims (the time was made up in advance, or backdated after a rewrite), or more
than the policy's `evidence_threshold` of working time *after* it (recorded late, so the
claimed time cannot be checked against the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from isg.business_calendar import WorkingCalendar
from isg.model import FirstSeen
from isg.sla.clock import elapsed_working_time

OK, EARLY, LATE = "ok", "recorded-before-claimed-time", "recorded-late"


@dataclass(frozen=True)
class Evidence:
    claimed: datetime
    first: FirstSeen | None
    verdict: str
    lag: timedelta | None = None

    def describe(self) -> str:
        if self.first is None:
            return "not yet committed"
        where = f"first in commit {self.first.commit[:12]} at {self.first.committed_at.isoformat()}"
        if self.verdict == EARLY:
            return f"{where}, before the time it claims ({self.claimed.isoformat()})"
        if self.verdict == LATE:
            return f"{where}, {self.lag} of working time after the time it claims"
        return where

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict if self.first else "uncommitted",
            "commit": self.first.commit if self.first else None,
            "committed_at": self.first.committed_at.isoformat() if self.first else None,
        }


def judge_evidence(
    claimed: datetime,
    first: FirstSeen | None,
    *,
    calendar: WorkingCalendar,
    threshold: timedelta,
) -> Evidence:
    """Compare a claimed milestone time with the commit that first recorded it."""
    if first is None:
        return Evidence(claimed, None, OK)
    if first.committed_at < claimed:
        return Evidence(claimed, first, EARLY)
    lag = elapsed_working_time(calendar, claimed, first.committed_at)
    return Evidence(claimed, first, LATE if lag > threshold else OK, lag)
