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


def test_a_years_report_reads_no_record_outside_the_years_said_to_read_it() -> None:
    """`years_read` is what lets the site keep a year's report when a record changes: with
    any one incident, RfC or problem taken away, every report of a year outside its years
    is the same, and taking records away does change the years inside."""
    from conftest import FIXED_NOW
    from isg.compliance import years_read
    from isg.compliance_report import build_report, report_dict
    from isg.schemas import load_schemas

    files = read_record_files(REPO_ROOT)
    schemas = load_schemas(REPO_ROOT)
    years = (2024, 2025, 2026, 2027)

    def reports(registry_files: dict[str, bytes]) -> dict[int, Any]:
        registry = parse_registry(registry_files)
        return {
            year: report_dict(
                build_report(
                    registry, schemas, year=year, now=FIXED_NOW, reopened=None, commit=None
                )
            )
            for year in years
        }

    whole = reports(files)
    outside = inside_changed = 0
    for record in parse_registry(files).records:
        if record.kind.name not in ("incident", "rfc", "problem"):
            continue
        read = years_read(record.kind.name, record.data)
        without = reports({p: b for p, b in files.items() if p != record.path})
        for year in years:
            if read is None or not (read[0] <= year and (read[1] is None or year <= read[1])):
                assert without[year] == whole[year], (record.path, year, read)
                outside += 1
            elif without[year] != whole[year]:
                inside_changed += 1
    assert outside > 60 and inside_changed > 20, (outside, inside_changed)


def test_years_read_at_the_edges() -> None:
    from isg.compliance import years_read

    def incident(reported: str, **milestones: str) -> dict[str, Any]:
        return {"reported_at": reported, "milestones": milestones}

    assert years_read("incident", incident("2026-03-02T10:00:00+01:00")) == (2026, None)
    closed = incident("2025-03-02T10:00:00+01:00", closed="2025-04-01T10:00:00+02:00")
    assert years_read("incident", closed) == (2025, 2026)  # judged the next year too
    # Reported on 1 January in Paris: 31 December in UTC, the year before.
    early = incident("2026-01-01T00:30:00+01:00", closed="2026-01-02T10:00:00+01:00")
    assert years_read("incident", early) == (2025, 2027)
    # Reported at the very end of 2025 (UTC): in 2025's backlog at its end.
    edge = incident("2026-01-01T00:00:00+00:00", closed="2026-01-05T10:00:00+00:00")
    assert years_read("incident", edge) == (2025, 2027)
    permanent = incident(
        "2024-05-02T10:00:00+02:00",
        closed="2024-06-01T10:00:00+02:00",
        workaround="2024-05-03T10:00:00+02:00",
        permanent_solution="2027-02-01T10:00:00+01:00",
    )
    assert years_read("incident", permanent) == (2024, 2027)
    assert years_read("incident", {"reported_at": "never"}) == (0, None)
    rfc = {
        "submitted_at": "2025-12-01T10:00:00+01:00",
        "decision": {"at": "2026-01-10T10:00:00+01:00"},
        "pir": {"reviewed_at": "2027-03-01T10:00:00+01:00"},
    }
    assert years_read("rfc", rfc) == (2025, 2027)
    assert years_read("rfc", {}) is None
    assert years_read("problem", {"identified_at": "2026-02-01T10:00:00+01:00"}) == (2026, 2026)


def test_no_report_reads_what_the_site_says_reports_are_blind_to() -> None:
    """`sla.memory.REPORT_BLIND` lets the site keep a year's report when an incident's free
    text changes: with each of those fields changed (or added) in every incident, every
    year's report is the same; with a field reports do read changed, one differs."""
    from conftest import FIXED_NOW
    from isg.compliance_report import build_report, report_dict
    from isg.schemas import load_schemas
    from isg.sla.memory import REPORT_BLIND

    files = read_record_files(REPO_ROOT)
    schemas = load_schemas(REPO_ROOT)
    changed_to = {
        "title": "Another title",
        "description": "Another description.",
        "internal_notes": "Other notes.",
        "reported_by": "MEM-ZZ-NOBODY",
        "channel": "monitoring",
    }
    assert set(changed_to) == REPORT_BLIND

    def reports(**fields: Any) -> dict[int, Any]:
        registry = parse_registry(files)
        for record in registry.of_kind("incident"):
            record.data.update(fields)
            assert registry.is_valid(record, schemas), record.path
        return {
            year: report_dict(
                build_report(
                    registry, schemas, year=year, now=FIXED_NOW, reopened=None, commit=None
                )
            )
            for year in (2025, 2026)
        }

    whole = reports()
    for field, value in changed_to.items():
        assert reports(**{field: value}) == whole, field
    assert reports(urgency="low") != whole
