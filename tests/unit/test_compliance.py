"""The Service Level Report, hand-computed: misses inside and beyond the margin, the year a
milestone belongs to, the breach budget."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import REPO_ROOT
from isg.compliance import Cell, judge_milestones
from isg.records import parse_registry, read_record_files
from isg.sla.context import build_context
from isg.sla.incident import evaluate_incident

CONTEXT = build_context(parse_registry(read_record_files(REPO_ROOT)))
POLICY = CONTEXT.policies[0]
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)


def incident(
    n: int, impact: str, urgency: str, reported: str, registered: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"INC-2026-T{n:04d}",
        "title": "t",
        "reporting_state": "FR",
        "reported_at": reported,
        "impact": impact,
        "urgency": urgency,
        "status": "in-progress",
        "visibility": "public",
    }
    if registered:
        data["milestones"] = {"registration_confirmed": registered}
    return data


def cell(cells: list[Cell], priority: int, milestone: str) -> Cell:
    return next(c for c in cells if (c.priority, c.milestone) == (priority, milestone))


def judge(incidents: list[dict[str, Any]], now: datetime = YEAR_END) -> list[Cell]:
    statuses = [evaluate_incident(i, CONTEXT, now=now) for i in incidents]
    return judge_milestones(year=2026, statuses=statuses, policy=POLICY)


def test_priority_2_registration_with_a_miss_inside_and_one_beyond_the_margin() -> None:
    # Priority 2: registration within 1 hour of French working time; margin to 1h15.
    cells = judge(
        [
            incident(1, "high", "medium", "2026-03-02T10:00:00+01:00", "2026-03-02T10:30:00+01:00"),
            incident(2, "high", "medium", "2026-03-02T10:00:00+01:00", "2026-03-02T11:10:00+01:00"),
            incident(3, "high", "medium", "2026-03-02T10:00:00+01:00", "2026-03-02T12:00:00+01:00"),
        ]
    )
    registration = cell(cells, 2, "registration_confirmed")
    assert (
        registration.due,
        registration.met,
        registration.within_margin,
        registration.beyond_margin,
    ) == (3, 1, 1, 1)
    assert registration.verdict == "fail"
    assert registration.breach_budget == 0


def test_a_cell_passes_with_one_miss_inside_the_margin() -> None:
    # Priority 3 (75 % required), 4h target, margin to 5h: three met and one at 4h30.
    reported = "2026-03-02T09:00:00+01:00"
    cells = judge(
        [
            incident(1, "medium", "medium", reported, "2026-03-02T10:00:00+01:00"),
            incident(2, "medium", "medium", reported, "2026-03-02T11:00:00+01:00"),
            incident(3, "medium", "medium", reported, "2026-03-02T12:00:00+01:00"),
            incident(4, "medium", "medium", reported, "2026-03-02T14:00:00+01:00"),  # 3h30 + 30
        ]
    )
    registration = cell(cells, 3, "registration_confirmed")
    assert (registration.due, registration.met, registration.within_margin) == (4, 3, 1)
    assert registration.verdict == "pass"
    # 3 met: a fifth miss would make 3/5 = 60 % < 75 %, so none more can be missed.
    assert registration.breach_budget == 0


def test_open_past_the_deadline_at_year_end_counts_as_missed() -> None:
    cells = judge([incident(1, "low", "low", "2026-12-30T10:00:00+01:00", None)])
    assert cell(cells, 5, "registration_confirmed").beyond_margin == 1


def test_a_milestone_belongs_to_the_year_of_its_deadline() -> None:
    # Reported on 31 December at 16:00: the 4h registration is due on 4 January 2027.
    late_report = incident(1, "low", "low", "2026-12-31T16:00:00+01:00", None)
    assert cell(judge([late_report]), 5, "registration_confirmed").due == 0


def test_breach_budget_during_the_year() -> None:
    reported = "2026-03-02T09:00:00+01:00"
    ten_met = [incident(n, "low", "low", reported, "2026-03-02T09:30:00+01:00") for n in range(10)]
    cells = judge(ten_met, now=datetime(2026, 6, 1, tzinfo=UTC))
    # 10 met of 10 with 75 % required: floor(10 / 0.75 - 10) = 3 more misses allowed.
    assert cell(cells, 5, "registration_confirmed").breach_budget == 3


def test_reports_reusing_later_statuses_of_closed_incidents_are_the_same() -> None:
    """The site evaluates incidents once, at its own time, and each year's report reuses the
    statuses of incidents closed by the year's end."""
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.compliance_report import build_report, report_dict
    from isg.records import parse_registry, read_record_files
    from isg.schemas import load_schemas
    from isg.sla.run import evaluate_registry

    registry = parse_registry(read_record_files(REPO_ROOT))
    schemas = load_schemas(REPO_ROOT)
    later = evaluate_registry(registry, schemas, now=FIXED_NOW).statuses
    known = {s.incident_id: s for s in later}
    for year in (2024, 2025, 2026):
        plain = build_report(
            registry, schemas, year=year, now=FIXED_NOW, reopened=None, commit=None
        )
        shared = build_report(
            registry, schemas, year=year, now=FIXED_NOW, reopened=None, commit=None, known=known
        )
        assert report_dict(shared) == report_dict(plain)


def test_reports_sharing_one_basis_are_those_made_alone() -> None:
    """The site reads the registry once for every year's report (`ReportBasis`)."""
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.compliance_report import ReportBasis, build_report, report_dict
    from isg.records import parse_registry, read_record_files
    from isg.schemas import load_schemas

    registry = parse_registry(read_record_files(REPO_ROOT))
    schemas = load_schemas(REPO_ROOT)
    basis = ReportBasis.of(registry)
    assert sorted(basis.reported_in) == [2025, 2026]
    for year in (2024, 2025, 2026, 2027):
        for now in (FIXED_NOW, FIXED_NOW.replace(year=2025, month=6)):
            alone = build_report(registry, schemas, year=year, now=now, reopened=None, commit=None)
            shared = build_report(
                registry, schemas, year=year, now=now, reopened=None, commit=None, basis=basis
            )
            assert report_dict(shared) == report_dict(alone)
    backlog = report_dict(
        build_report(registry, schemas, year=2026, now=FIXED_NOW, reopened=None, commit=None)
    )["quantity"]["backlog_at_end"]
    assert backlog  # the examples hold incidents open now


def test_quantity_counts_with_spans_in_utc_match_the_record_times() -> None:
    """An incident reported on 31 December in Paris belongs to the year in UTC; one closed
    exactly at the year's end has left the backlog."""
    from datetime import UTC, datetime

    from isg.compliance import count_quantity, incident_spans

    incidents = [
        {
            "id": "INC-A",
            "reporting_state": "FR",
            "reported_at": "2026-01-01T00:30:00+01:00",  # 2025-12-31T23:30Z
            "milestones": {"closed": "2026-01-01T00:00:00Z"},
        },
        {"id": "INC-B", "reporting_state": "DE", "reported_at": "2025-12-31T22:00:00-05:00"},
        {"id": "INC-C", "reporting_state": "DE", "reported_at": "not a time"},
    ]
    end = datetime(2026, 1, 1, tzinfo=UTC)
    counted = count_quantity(year=2025, at=end, incidents=incidents, priorities={}, rfcs=[])
    assert counted["incidents"] == 1 and counted["by_state"] == {"FR": 1}
    assert counted["by_month"] == {"2025-12": 1}
    assert counted["backlog_at_end"] == []  # A closed at the end; B reported after it (UTC)
    assert (
        count_quantity(
            year=2025,
            at=end,
            incidents=incidents,
            priorities={},
            rfcs=[],
            spans=incident_spans(incidents),
        )
        == counted
    )
    later = count_quantity(
        year=2026, at=end.replace(year=2027), incidents=incidents, priorities={}, rfcs=[]
    )
    assert later["incidents"] == 1 and later["backlog_at_end"] == ["INC-B"]
