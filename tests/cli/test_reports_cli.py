"""`isg fees`, `isg release status|notes` and `isg report sla` end to end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import FIXED_AT, REPO_ROOT, RunCli, git


def test_fees_json_lists_amount_rows_and_reserve(run_cli: RunCli) -> None:
    result = run_cli("fees", "--year", "2026", "--format", "json", "--repo", str(REPO_ROOT))
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["amount"] == "209500"
    assert [(s["state"], s["amount"], s["pro_rata"]) for s in data["states"]] == [
        ("BR", "45543.48", False),
        ("FR", "113858.69", False),
        ("MT", "4554.35", False),
        ("NL", "45543.48", False),
        ("CA", "81416.77", True),
    ]
    assert data["reserve"] == {"opening": "30000", "in": "81416.77", "closing": "111416.77"}


def test_fees_csv_and_text(run_cli: RunCli) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(
                run_cli(
                    "fees", "--year", "2026", "--format", "csv", "--repo", str(REPO_ROOT)
                ).output
            )
        )
    )
    assert rows[-1] == {
        "year": "2026",
        "state": "CA",
        "units": "25",
        "days": "261",
        "days_in_year": "365",
        "amount": "81416.77",
        "currency": "EUR",
        "pro_rata": "yes",
    }
    text = run_cli("fees", "--year", "2026", "--repo", str(REPO_ROOT)).output
    assert "  reserve fund: 30,000.00 + 81,416.77 = 111,416.77\n" in text
    missing = run_cli("fees", "--year", "2030", "--repo", str(REPO_ROOT))
    assert (missing.exit_code, missing.output) == (
        2,
        "isg: no budget for 2030 (records/budgets/budget-2030.yaml)\n",
    )


def test_release_status_lists_overdue_states(run_cli: RunCli) -> None:
    result = run_cli("release", "status", "--at", FIXED_AT, "--repo", str(REPO_ROOT))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  BR  installed 2026-08-03  due 2026-07-16  late" in lines
    assert "  CA  installed -  due 2026-07-16  overdue" in lines
    assert "  FR  installed -  due 2027-01-20  pending" in lines
    assert lines[-1] == "overdue: CA (4.1.0, due 2026-07-16)"


def test_release_notes_from_rfcs_and_incidents(run_cli: RunCli) -> None:
    result = run_cli("release", "notes", "4.1.0", "--repo", str(REPO_ROOT))
    lines = result.output.splitlines()
    assert lines[0] == "# iSupport 4.1.0 (spring 2026 regular release)"
    assert "## Changes" in lines and "## Incidents fixed" in lines
    assert any(
        line.startswith("- RFC-") and "(emergency, requested by isupport-sp)" in line
        for line in lines
    )
    unknown = run_cli("release", "notes", "9.9.9", "--repo", str(REPO_ROOT))
    assert (unknown.exit_code, unknown.output) == (2, "isg: no release 9.9.9\n")


def test_report_sla_json_states_its_rule_and_commit(run_cli: RunCli, git_repo: Path) -> None:
    result = run_cli(
        "report",
        "sla",
        "--year",
        "2026",
        "--format",
        "json",
        "--at",
        FIXED_AT,
        "--repo",
        str(git_repo),
    )
    data = json.loads(result.output)
    assert data["commit"] == git(git_repo, "rev-parse", "HEAD").strip()
    assert data["population_rule"].startswith("A milestone belongs to the year (UTC) in which")
    p1 = {
        c["milestone"]: (c["due"], c["met"], c["verdict"])
        for c in data["cells"]
        if c["priority"] == 1
    }
    assert p1["registration_confirmed"] == (2, 2, "pass")
    assert p1["analysis"] == (2, 1, "fail")
    assert data["verdict"] == "fail"


def test_report_sla_verify_against_a_tag(run_cli: RunCli, git_repo: Path) -> None:
    git(git_repo, "tag", "q4")
    same = run_cli(
        "report",
        "sla",
        "--year",
        "2026",
        "--at",
        FIXED_AT,
        "--verify",
        "q4",
        "--repo",
        str(git_repo),
    )
    assert same.exit_code == 0
    assert same.output.startswith("matches: the 2026 report at q4 (")
    incident = git_repo / "records/incidents/INC-2026-GWABX.yaml"
    incident.write_text(incident.read_text().replace("urgency: high", "urgency: low"))
    changed = run_cli(
        "report",
        "sla",
        "--year",
        "2026",
        "--at",
        FIXED_AT,
        "--verify",
        "q4",
        "--repo",
        str(git_repo),
    )
    assert (changed.exit_code, changed.output) == (1, "differs from q4 in: cells, quantity\n")


def test_report_sla_svg_and_html(run_cli: RunCli) -> None:
    svg = run_cli(
        "report",
        "sla",
        "--year",
        "2026",
        "--format",
        "svg",
        "--at",
        FIXED_AT,
        "--repo",
        str(REPO_ROOT),
    ).output
    assert svg.count('data-verdict="pass"') == 6
    html = run_cli(
        "report",
        "sla",
        "--year",
        "2026",
        "--format",
        "html",
        "--at",
        FIXED_AT,
        "--repo",
        str(REPO_ROOT),
    ).output
    assert "<h1>Service Level Report 2026</h1>" in html
