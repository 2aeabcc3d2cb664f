"""Milestone states, eCAB duties, reclassification and policy selection for one incident."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from conftest import REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.sla.context import build_context
from isg.sla.incident import IncidentStatus, evaluate_incident
from isg.sla.policy import PolicyError, compute_priority, select_policy

CONTEXT = build_context(parse_registry(read_record_files(REPO_ROOT)))
POLICY = CONTEXT.policies[0]


def incident(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "INC-2026-TEST1",
        "title": "t",
        "reporting_state": "FR",
        "reported_at": "2026-03-02T15:15:00+01:00",
        "impact": "high",
        "urgency": "medium",
        "status": "in-progress",
        "visibility": "public",
    }
    base.update(fields)
    return base


def states(status: IncidentStatus) -> dict[str, str]:
    return {m.milestone: m.state for m in status.milestones}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        ("high", "high", 1),
        ("high", "medium", 2),
        ("high", "low", 3),
        ("medium", "high", 2),
        ("medium", "medium", 3),
        ("medium", "low", 4),
        ("low", "high", 3),
        ("low", "medium", 4),
        ("low", "low", 5),
    ],
)
def test_priority_matrix_of_table_6(impact: str, urgency: str, priority: int) -> None:
    assert compute_priority(POLICY, impact=impact, urgency=urgency) == priority


def test_policy_in_force_at_reported_at() -> None:
    newer = POLICY.__class__(
        **{**POLICY.__dict__, "id": "sla-2027", "effective_from": date(2027, 1, 1)}
    )
    assert select_policy([POLICY, newer], datetime(2026, 12, 31, tzinfo=UTC)).id == "sla-2016"
    assert select_policy([POLICY, newer], datetime(2027, 1, 1, tzinfo=UTC)).id == "sla-2027"
    with pytest.raises(PolicyError, match="no service-level policy is in force on 2016-08-31"):
        select_policy([POLICY], date(2016, 8, 31))


def test_priority_2_deadlines_follow_table_7_in_french_working_time() -> None:
    status = evaluate_incident(incident(), CONTEXT, now=at("2026-03-02T15:20:00+01:00"))
    assert status.priority == 2
    deadlines = {
        m.milestone: m.deadline.astimezone(at("2026-03-02T00:00+01:00").tzinfo).isoformat()
        for m in status.milestones
    }
    assert deadlines == {
        "registration_confirmed": "2026-03-02T16:15:00+01:00",  # 1h
        "initial_documentation": "2026-03-03T09:45:00+01:00",  # 3h: 2h15 + 45m
        "analysis": "2026-03-04T15:15:00+01:00",  # 2d: the document's example
        "solution": "2026-03-05T15:15:00+01:00",  # 3d
        "knowledge_documented": "2026-03-06T10:30:00+01:00",  # 3.5d = 26h15
    }
    assert "ecab_meeting" not in deadlines  # priority 2: the eCAB decides whether to meet


@pytest.mark.parametrize(
    ("completed", "state"),
    [
        ("2026-03-04T15:14:59+01:00", "met"),
        ("2026-03-04T15:15:00+01:00", "late-within-margin"),
        # 2d x 1.25 = 18h45 of working time: 2h15 + 7h30 + 7h30 + 1h30, Thursday 10:30.
        ("2026-03-05T10:29:00+01:00", "late-within-margin"),
        ("2026-03-05T10:30:00+01:00", "late-beyond-margin"),
    ],
)
def test_completed_analysis_against_deadline_and_margin(completed: str, state: str) -> None:
    status = evaluate_incident(
        incident(milestones={"analysis": completed}), CONTEXT, now=at("2026-03-10T12:00:00+01:00")
    )
    assert states(status)["analysis"] == state


@pytest.mark.parametrize(
    ("now", "state"),
    [
        ("2026-03-03T10:00:00+01:00", "running"),
        # Less than 25 % of 15h (3h45) left from Wednesday 10:30.
        ("2026-03-04T10:30:00+01:00", "running"),
        ("2026-03-04T10:31:00+01:00", "at-risk"),
        ("2026-03-04T15:15:00+01:00", "late-within-margin"),
        ("2026-03-05T10:30:00+01:00", "late-beyond-margin"),
    ],
)
def test_open_analysis_as_time_passes(now: str, state: str) -> None:
    status = evaluate_incident(incident(), CONTEXT, now=at(now))
    assert states(status)["analysis"] == state


def test_closed_without_a_milestone_is_late_beyond_margin() -> None:
    status = evaluate_incident(
        incident(status="closed", milestones={"closed": "2026-03-03T10:00:00+01:00"}),
        CONTEXT,
        now=at("2026-03-03T11:00:00+01:00"),
    )
    knowledge = next(m for m in status.milestones if m.milestone == "knowledge_documented")
    assert (knowledge.state, knowledge.note) == (
        "late-beyond-margin",
        "the incident was closed without it",
    )


def test_solution_is_the_first_of_workaround_and_permanent_solution() -> None:
    status = evaluate_incident(
        incident(
            milestones={
                "workaround": "2026-03-04T10:00:00+01:00",
                "permanent_solution": "2026-03-20T10:00:00+01:00",
            }
        ),
        CONTEXT,
        now=at("2026-03-25T10:00:00+01:00"),
    )
    solution = next(m for m in status.milestones if m.milestone == "solution")
    assert solution.completed_at == at("2026-03-04T10:00:00+01:00")
    assert solution.state == "met"


def test_priority_1_owes_the_ecab_a_telephone_meeting() -> None:
    status = evaluate_incident(
        incident(urgency="high", milestones={"ecab_informed": "2026-03-02T15:20:00+01:00"}),
        CONTEXT,
        now=at("2026-03-02T16:00:00+01:00"),
    )
    assert status.priority == 1
    duties = [
        (d.duty, d.channel, d.required, d.status.state if d.status else None) for d in status.ecab
    ]
    assert duties == [
        ("informed", "e-mail", True, "met"),
        ("meeting", "telephone", True, "running"),
    ]
    meeting = next(m for m in status.milestones if m.milestone == "ecab_meeting")
    # 4h from Monday 15:15: 2h15 on Monday, 1h45 on Tuesday morning.
    assert meeting.deadline == at("2026-03-03T10:45:00+01:00")


def test_priority_2_meeting_counts_only_if_the_ecab_met() -> None:
    quiet = evaluate_incident(incident(), CONTEXT, now=at("2026-03-03T10:00:00+01:00"))
    assert [(d.duty, d.required, d.status) for d in quiet.ecab][1] == ("meeting", False, None)
    met = evaluate_incident(
        incident(milestones={"ecab_meeting": "2026-03-03T09:30:00+01:00"}),
        CONTEXT,
        now=at("2026-03-03T10:00:00+01:00"),
    )
    assert states(met)["ecab_meeting"] == "met"  # 8h target


def test_reclassification_retargets_from_reported_at_and_keeps_history() -> None:
    status = evaluate_incident(
        incident(
            impact="high",
            urgency="high",
            reclassifications=[
                {
                    "at": "2026-03-02T16:00:00+01:00",
                    "impact": "low",
                    "urgency": "high",
                    "reason": "all users were affected",
                }
            ],
        ),
        CONTEXT,
        now=at("2026-03-02T16:30:00+01:00"),
    )
    assert [(c.priority, c.until) for c in status.history] == [
        (3, at("2026-03-02T16:00:00+01:00")),
        (1, None),
    ]
    registration = status.milestones[0]
    # Priority 1 target (10m) counted from 15:15, not from the reclassification.
    assert registration.deadline == at("2026-03-02T15:25:00+01:00")
    assert registration.state == "late-beyond-margin"


def test_pauses_stop_only_pausable_milestones() -> None:
    paused = incident(
        pauses=[
            {
                "start": "2026-03-02T15:30:00+01:00",
                "end": "2026-03-03T15:30:00+01:00",
                "waiting_on": "reporting-state",
                "reason": "logs",
            }
        ]
    )
    status = evaluate_incident(paused, CONTEXT, now=at("2026-03-03T16:00:00+01:00"))
    deadlines = {m.milestone: m.deadline for m in status.milestones}
    assert deadlines["registration_confirmed"] == at("2026-03-02T16:15:00+01:00")
    # analysis (pausable): 7.5 working hours paused, so one working day later.
    assert deadlines["analysis"] == at("2026-03-05T15:15:00+01:00")


def test_open_pause_is_counted_until_now() -> None:
    paused = incident(
        pauses=[
            {"start": "2026-03-02T15:30:00+01:00", "waiting_on": "third-party", "reason": "gateway"}
        ]
    )
    status = evaluate_incident(paused, CONTEXT, now=at("2026-03-03T15:30:00+01:00"))
    analysis = next(m for m in status.milestones if m.milestone == "analysis")
    assert analysis.elapsed == timedelta(minutes=15)
    assert analysis.state == "running"
