"""The Service Level Report: table 8's requirements against a year of incidents.

Population rule: a milestone belongs to the year (UTC) in which its deadline falls, and is
judged at the end of that year, or at `now` if the year is not over. Milestones not yet due at
that time are left out. A milestone still open past its deadline at that time counts as
missed (beyond the margin once past the margin deadline); a milestone never recorded on an
incident closed without it is missed beyond the margin. Only the milestones of table 8 are
judged (the eCAB meeting is not).

A cell (priority x milestone) passes when the share met reaches the required share and every
miss stayed within the margin (target + 25 %). The report passes when every cell with
milestones due passes. The breach budget of a cell says how many more misses it can take this
year before it fails: the largest k with met / (due + k) >= required, and 0 once any miss went
beyond the margin.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from isg.sla.incident import BEYOND, MET, WITHIN, IncidentStatus
from isg.sla.policy import Policy
from isg.times import parse_time

JUDGED = (
    "registration_confirmed",
    "initial_documentation",
    "analysis",
    "solution",
    "knowledge_documented",
)


@dataclass
class Cell:
    priority: int
    milestone: str
    required: float
    due: int = 0
    met: int = 0
    within_margin: int = 0
    beyond_margin: int = 0

    @property
    def share(self) -> float | None:
        return self.met / self.due if self.due else None

    @property
    def verdict(self) -> str:
        if not self.due:
            return "none due"
        ok = self.met / self.due >= self.required and not self.beyond_margin
        return "pass" if ok else "fail"

    @property
    def breach_budget(self) -> int:
        """More misses this cell can take this year before it fails."""
        if self.beyond_margin or self.verdict == "fail":
            return 0
        if self.required <= 0:
            return 10**9
        return max(0, math.floor(self.met / self.required - self.due + 1e-9))


@dataclass
class ComplianceReport:
    year: int
    at: datetime
    policy: str
    cells: list[Cell] = field(default_factory=list)
    quantity: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    commit: str | None = None

    @property
    def verdict(self) -> str:
        judged = [c for c in self.cells if c.due]
        return "pass" if all(c.verdict == "pass" for c in judged) else "fail"


def year_end(year: int) -> datetime:
    return datetime(year + 1, 1, 1, tzinfo=UTC)


Years = tuple[int, int | None]  # the first and last year (None: every year from the first)
EVERY_YEAR: Years = (0, None)


def years_read(kind: str, data: Mapping[str, Any]) -> Years | None:
    """The years whose report may read this record (a superset; None: none), by what
    `build_report`, `count_quantity` and `count_quality` read of it: a site keeps each
    year's report until a record that year reads changes. An incident: the year it was
    reported in as written and the next (milestones judged, from `reported_in`), its UTC
    year (counts), every year until its closing (the backlog; an open one, every year on)
    and the year its workaround was made permanent. An RfC: the UTC years it was submitted,
    decided and reviewed in; a problem: the year it was identified."""
    if kind == "incident":
        reported = parse_time(data.get("reported_at"))
        if reported is None:
            return EVERY_YEAR
        utc = reported.astimezone(UTC)
        # In the backlog at the end of the year before when reported at its very end.
        first = min(reported.year, utc.year - 1 if utc == year_end(utc.year - 1) else utc.year)
        milestones = data.get("milestones")
        milestones = milestones if isinstance(milestones, Mapping) else {}
        closed = parse_time(milestones.get("closed"))
        if closed is None:
            return (first, None)
        years = [reported.year + 1, utc.year, closed.astimezone(UTC).year]
        permanent = parse_time(milestones.get("permanent_solution"))
        if permanent is not None:
            years.append(permanent.astimezone(UTC).year)
        return (first, max(years))
    dates: list[Any]
    if kind == "rfc":
        decision, pir = data.get("decision"), data.get("pir")
        dates = [
            data.get("submitted_at"),
            decision.get("at") if isinstance(decision, Mapping) else None,
            pir.get("reviewed_at") if isinstance(pir, Mapping) else None,
        ]
    elif kind == "problem":
        dates = [data.get("identified_at")]
    else:
        return EVERY_YEAR
    found = [m.astimezone(UTC).year for m in map(parse_time, dates) if m is not None]
    return (min(found), max(found)) if found else None


def judge_milestones(
    *, year: int, statuses: Iterable[IncidentStatus], policy: Policy
) -> list[Cell]:
    """Table 8 for `year` from incident statuses evaluated at the year's end (or now)."""
    cells = {
        (p, rule.id): Cell(p, rule.id, rule.compliance[p - 1])
        for rule in policy.milestones
        if rule.id in JUDGED and rule.compliance
        for p in range(1, 6)
    }
    for status in statuses:
        for m in status.milestones:
            cell = cells.get((status.priority, m.milestone))
            if cell is None or m.deadline.astimezone(UTC).year != year:
                continue
            if m.state not in (MET, WITHIN, BEYOND):
                continue  # still running: not due yet
            cell.due += 1
            if m.state == MET:
                cell.met += 1
            elif m.state == WITHIN:
                cell.within_margin += 1
            else:
                cell.beyond_margin += 1
    return sorted(cells.values(), key=lambda c: (c.priority, JUDGED.index(c.milestone)))


def _in_year(value: Any, year: int) -> bool:
    moment = parse_time(value)
    return moment is not None and moment.astimezone(UTC).year == year


Span = tuple[datetime, datetime | None, Mapping[str, Any]]  # reported, closed (UTC), incident


def incident_spans(incidents: Iterable[Mapping[str, Any]]) -> list[Span]:
    """Each incident with a report time, with its report and closing instants in UTC (one
    zone, so comparing them is cheap): read once when the counts of many years are made."""
    spans: list[Span] = []
    for incident in incidents:
        reported = parse_time(incident.get("reported_at"))
        if reported is None:
            continue
        closed = parse_time((incident.get("milestones") or {}).get("closed"))
        spans.append(
            (reported.astimezone(UTC), closed.astimezone(UTC) if closed else None, incident)
        )
    return spans


def count_quantity(
    *,
    year: int,
    at: datetime,
    incidents: Iterable[Mapping[str, Any]],
    priorities: Mapping[str, int],
    rfcs: Iterable[Mapping[str, Any]],
    spans: list[Span] | None = None,
) -> dict[str, Any]:
    """Incidents by priority, State, CI and month; backlog; RfCs; time to decision.

    `spans`: `incident_spans(incidents)`, when already made."""
    if spans is None:
        spans = incident_spans(incidents)
    rfcs = list(rfcs)
    at = at.astimezone(UTC)
    reported = [(when, i) for when, _, i in spans if when.year == year]
    backlog = [i["id"] for r, c, i in spans if r <= at and not (c is not None and c <= at)]
    decided = []
    for rfc in rfcs:
        decision = rfc.get("decision")
        when = parse_time(decision.get("at")) if isinstance(decision, dict) else None
        asked = parse_time(rfc.get("submitted_at"))
        if when and asked and when.astimezone(UTC).year == year:
            decided.append((when - asked).total_seconds() / 86400)
    submitted = [r for r in rfcs if _in_year(r.get("submitted_at"), year)]
    return {
        "incidents": len(reported),
        "by_priority": dict(
            sorted(
                Counter(priorities[i["id"]] for _, i in reported if i["id"] in priorities).items()
            )
        ),
        "by_state": dict(sorted(Counter(i["reporting_state"] for _, i in reported).items())),
        "by_ci": dict(
            sorted(Counter(c for _, i in reported for c in i.get("affected_cis") or []).items())
        ),
        "by_month": dict(sorted(Counter(when.strftime("%Y-%m") for when, _ in reported).items())),
        "backlog_at_end": sorted(backlog),
        "rfcs_by_type": dict(sorted(Counter(r["type"] for r in submitted).items())),
        "rfcs_by_status": dict(sorted(Counter(r["status"] for r in submitted).items())),
        "median_days_to_decision": round(statistics.median(decided), 1) if decided else None,
    }


def count_quality(
    *,
    year: int,
    incidents: Iterable[Mapping[str, Any]],
    problems: Iterable[Mapping[str, Any]],
    rfcs: Iterable[Mapping[str, Any]],
    reopened: Iterable[str] | None,
) -> dict[str, Any]:
    """Reopened incidents, workarounds made permanent, problems from repeats, PIRs, adoptions."""
    rfcs = list(rfcs)
    made_permanent = [
        i["id"]
        for i in incidents
        if (m := i.get("milestones") or {}).get("workaround")
        and _in_year(m.get("permanent_solution"), year)
    ]
    pirs = [
        r
        for r in rfcs
        if isinstance(r.get("pir"), dict) and _in_year(r["pir"].get("reviewed_at"), year)
    ]
    return {
        "reopened_incidents": sorted(reopened) if reopened is not None else None,
        "workarounds_made_permanent": sorted(made_permanent),
        "problems_from_repeated_incidents": sorted(
            p["id"]
            for p in problems
            if p.get("found_from_repeated_incidents") and _in_year(p.get("identified_at"), year)
        ),
        "pir_objective_achieved": sum(1 for r in pirs if r["pir"].get("objective_achieved")),
        "pir_objective_missed": sum(1 for r in pirs if not r["pir"].get("objective_achieved")),
        "local_changes_adopted": sorted(
            f"{r['requester']} adopts {r['adopts']}"
            for r in rfcs
            if r.get("adopts") and _in_year(r.get("submitted_at"), year)
        ),
    }
