"""`isg priority` and `isg sla ...` end to end on the embedded registry at a fixed time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXED_AT, REPO_ROOT, RunCli, git

P1_OPEN = "INC-2026-7EVZM"  # France, priority 1, in progress, analysis overdue at FIXED_AT


def test_priority_prints_the_matrix_value(run_cli: RunCli) -> None:
    result = run_cli(
        "priority", "--impact", "high", "--urgency", "medium", "--repo", str(REPO_ROOT)
    )
    assert (result.exit_code, result.output) == (0, "2\n")


def test_priority_rejects_unknown_levels(run_cli: RunCli) -> None:
    result = run_cli(
        "priority", "--impact", "urgent", "--urgency", "high", "--repo", str(REPO_ROOT)
    )
    assert result.exit_code == 2
    assert "'urgent' is not one of 'high', 'medium', 'low'" in result.output


def test_deadline_reproduces_the_documents_example(run_cli: RunCli) -> None:
    result = run_cli(
        "sla",
        "deadline",
        "--start",
        "2026-03-02T15:15:00+01:00",
        "--duration",
        "2d",
        "--calendar",
        "FR",
        "--repo",
        str(REPO_ROOT),
    )
    assert (result.exit_code, result.output) == (0, "2026-03-04T15:15:00+01:00\n")


def test_deadline_with_a_pause_and_in_another_calendar(run_cli: RunCli) -> None:
    result = run_cli(
        "sla",
        "deadline",
        "--start",
        "2026-03-02T09:00:00-05:00",
        "--duration",
        "4h",
        "--calendar",
        "CA",
        "--pause",
        "2026-03-02T10:00:00-05:00/2026-03-02T12:00:00-05:00",
        "--repo",
        str(REPO_ROOT),
    )
    assert (result.exit_code, result.output) == (0, "2026-03-02T15:00:00-05:00\n")


def test_deadline_in_24x7(run_cli: RunCli) -> None:
    result = run_cli(
        "sla",
        "deadline",
        "--start",
        "2026-03-07T22:00:00+00:00",
        "--duration",
        "1d",
        "--calendar",
        "24x7",
        "--repo",
        str(REPO_ROOT),
    )
    assert result.output == "2026-03-08T22:00:00+00:00\n"


def test_deadline_errors_are_messages(run_cli: RunCli) -> None:
    bad = run_cli(
        "sla",
        "deadline",
        "--start",
        "2026-03-02T09:00:00+01:00",
        "--duration",
        "2 days",
        "--calendar",
        "FR",
        "--repo",
        str(REPO_ROOT),
    )
    assert bad.exit_code == 2
    assert bad.output == (
        "isg: '2 days' is not a duration; write a number and m, h, d or w, e.g. 3.5d\n"
    )
    unknown = run_cli(
        "sla",
        "deadline",
        "--start",
        "2026-03-02T09:00:00+01:00",
        "--duration",
        "2d",
        "--calendar",
        "XX",
        "--repo",
        str(REPO_ROOT),
    )
    assert unknown.output == "isg: no working calendar named 'XX'\n"


def test_status_json_for_one_incident(run_cli: RunCli) -> None:
    result = run_cli(
        "sla", "status", P1_OPEN, "--at", FIXED_AT, "--format", "json", "--repo", str(REPO_ROOT)
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["version"] == 1 and data["at"] == "2026-11-27T12:00:00+00:00"
    (incident,) = data["incidents"]
    assert (incident["priority"], incident["impact"], incident["urgency"]) == (1, "high", "high")
    analysis = next(m for m in incident["milestones"] if m["milestone"] == "analysis")
    assert analysis == {
        "calendar": "FR",
        "completed_at": None,
        "deadline": "2026-11-25T15:40:00+00:00",
        "elapsed_seconds": 71400,
        "margin_deadline": "2026-11-26T09:10:00+00:00",
        "milestone": "analysis",
        "name": "The incident is analysed, analysis is added to the Incident record",
        "note": "",
        "state": "late-beyond-margin",
        "target": "8h",
        "target_seconds": 28800,
    }
    assert [(d["duty"], d["state"]) for d in incident["ecab"]] == [
        ("informed", "met"),
        ("meeting", "met"),
    ]


def test_status_text_shows_every_milestone(run_cli: RunCli) -> None:
    result = run_cli("sla", "status", P1_OPEN, "--at", FIXED_AT, "--repo", str(REPO_ROOT))
    lines = result.output.splitlines()
    assert lines[0] == (
        f"{P1_OPEN}  FR  in-progress  priority 1 (impact high x urgency high, policy sla-2016)"
    )
    assert lines[3].split() == [
        "registration_confirmed",
        "10m",
        "2026-11-24T16:20+01:00",
        "2026-11-24T16:22+01:00",
        "2026-11-24T16:19+01:00",
        "0h09m",
        "met",
    ]


def test_unknown_incident_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("sla", "status", "INC-2026-NOPE0", "--repo", str(REPO_ROOT))
    assert (result.exit_code, result.output) == (2, "isg: no such incident: INC-2026-NOPE0\n")


def test_invalid_incident_is_skipped_with_its_reason(run_cli: RunCli, registry: Path) -> None:
    path = registry / "records" / "incidents" / f"{P1_OPEN}.yaml"
    path.write_text(path.read_text().replace("impact: high", "impact: huge"))
    result = run_cli("sla", "status", "--at", FIXED_AT, "--repo", str(registry))
    assert result.exit_code == 0
    assert result.stderr == (
        f"records/incidents/{P1_OPEN}.yaml: skipped: not a valid incident"
        " record; run isg validate\n"
    )


def test_explain_prints_the_ledger(run_cli: RunCli) -> None:
    result = run_cli("sla", "explain", P1_OPEN, "--at", FIXED_AT, "--repo", str(REPO_ROOT))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"{P1_OPEN}: priority 1 (impact high x urgency high, policy sla-2016)"
    assert "working time of FR (Europe/Paris) from reported_at:" in lines
    ledger = lines[lines.index("working time of FR (Europe/Paris) from reported_at:") + 1 :]
    assert ledger[0].split() == ["from", "to", "counts", "total", "why"]
    assert ledger[1].split() == [
        "2026-11-24T16:10+01:00",
        "2026-11-24T17:30+01:00",
        "1h20m",
        "1h20m",
    ]
    assert ledger[2].split()[-3:] == ["outside", "working", "hours"]


def test_watch_lists_late_and_at_risk_and_fails_on_priority_1(run_cli: RunCli) -> None:
    result = run_cli("sla", "watch", "--at", FIXED_AT, "--repo", str(REPO_ROOT))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "SLA watch as of 2026-11-27T12:00+00:00:"
    assert lines[1] == (
        f"P1 {P1_OPEN} FR analysis deadline 2026-11-25T16:40+01:00 late-beyond-margin"
    )
    assert any(line.endswith("at-risk") for line in lines)


def test_watch_markdown_for_the_job_summary(run_cli: RunCli) -> None:
    result = run_cli(
        "sla", "watch", "--at", FIXED_AT, "--format", "markdown", "--repo", str(REPO_ROOT)
    )
    lines = result.output.splitlines()
    assert lines[:4] == [
        "## SLA watch as of 2026-11-27T12:00+00:00",
        "",
        "| priority | incident | State | milestone | deadline | state |",
        "|---|---|---|---|---|---|",
    ]


def test_watch_is_quiet_when_nothing_is_late(run_cli: RunCli) -> None:
    result = run_cli("sla", "watch", "--at", "2025-01-01T00:00:00+00:00", "--repo", str(REPO_ROOT))
    # Before any incident was reported nothing can be late.
    assert result.output == "SLA watch as of 2025-01-01T00:00+00:00: nothing is late or at risk\n"
    assert result.exit_code == 0


def test_evidence_flags_backdated_and_late_records(run_cli: RunCli, git_repo: Path) -> None:
    path = git_repo / "records" / "incidents" / f"{P1_OPEN}.yaml"
    path.write_text(
        path.read_text().replace(
            "  registration_confirmed:",
            "  analysis: '2026-11-25T10:00:00+01:00'\n  registration_confirmed:",
        )
    )
    git(git_repo, "commit", "-qam", "analysis done", date="2026-11-25T10:20:00+01:00")
    result = run_cli(
        "sla",
        "status",
        P1_OPEN,
        "--evidence",
        "--at",
        FIXED_AT,
        "--format",
        "json",
        "--repo",
        str(git_repo),
    )
    assert result.exit_code == 0, result.output
    milestones = {
        m["milestone"]: m["evidence"]["verdict"]
        for m in json.loads(result.output)["incidents"][0]["milestones"]
        if "evidence" in m
    }
    # Committed (2026-11-20) before the times it claims (24-25 November): flagged.
    assert milestones["registration_confirmed"] == "recorded-before-claimed-time"
    # Committed 20 minutes after it was reached: fine.
    assert milestones["analysis"] == "ok"
    old = run_cli(
        "sla",
        "status",
        "INC-2025-DA1H6",
        "--evidence",
        "--at",
        FIXED_AT,
        "--format",
        "json",
        "--repo",
        str(git_repo),
    )
    verdicts = {
        m["evidence"]["verdict"] for m in json.loads(old.output)["incidents"][0]["milestones"]
    }
    assert verdicts == {"recorded-late"}  # reached in 2025, first committed in 2026


def test_evidence_needs_git(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("sla", "status", "--evidence", "--repo", str(registry))
    assert result.exit_code == 2
    assert "is not inside a git repository (needed for --evidence)" in result.output


def test_status_json_is_one_document_with_one_incident_per_line(run_cli: RunCli) -> None:
    from conftest import FIXED_NOW
    from isg.sla.output import status_json

    empty = status_json([], FIXED_NOW)
    assert json.loads(empty) == {"at": FIXED_AT, "incidents": [], "version": 1}
    result = run_cli(
        "sla", "status", "--at", FIXED_AT, "--format", "json", "--repo", str(REPO_ROOT)
    )
    lines = result.output.splitlines()
    document = json.loads(result.output)
    assert len(lines) == len(document["incidents"]) + 2 > 20
    assert all(line.startswith('{"classification_history"') for line in lines[1:-1])


def test_status_json_is_the_same_over_several_processes(
    run_cli: RunCli, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared out over forked workers (in small chunks), the document is byte for byte the
    one made in one process, which is the library's `status_json` of `evaluate_registry`."""
    from conftest import FIXED_NOW
    from isg.git_history import first_recorded_milestones
    from isg.record_cache import load_registry
    from isg.schemas import load_schemas
    from isg.sla import run as run_module
    from isg.sla.output import status_json

    broken = git_repo / "records" / "incidents" / "INC-2026-4ADP7.yaml"
    broken.write_text(broken.read_text().replace("impact: ", "impact: enormous-", 1))
    monkeypatch.setenv("ISG_NO_CACHE", "1")  # both runs evaluate every incident
    args = ("sla", "status", "--evidence", "--at", FIXED_AT, "--format", "json")
    one = run_cli(*args, "--repo", str(git_repo))
    monkeypatch.setattr(run_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(run_module, "CHUNK", 3)
    several = run_cli(*args, "--repo", str(git_repo))
    assert one.exit_code == several.exit_code == 0
    assert one.stdout == several.stdout
    assert "INC-2026-4ADP7.yaml: skipped: not a valid incident record" in several.stderr
    registry = load_registry(git_repo, load_schemas(git_repo))
    run = run_module.evaluate_registry(registry, load_schemas(git_repo), now=FIXED_NOW)
    proof = run_module.collect_evidence(run, registry, first_recorded_milestones(git_repo))
    assert one.stdout == status_json(run.statuses, FIXED_NOW, proof)
    assert len(json.loads(one.stdout)["incidents"]) == len(run.statuses) > 20
