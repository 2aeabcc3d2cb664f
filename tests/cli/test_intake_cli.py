"""`isg intake`: issue forms, as GitHub renders them, into records; spoofing and personal data
are refused. Payloads are GitHub's real `issues.opened` examples with the body replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXED_AT, REPO_ROOT, RunCli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
INCIDENT_BODY = (
    "### Reporting State\n\nFR\n\n"
    "### Impact\n\nmedium: some (not all) users of one or some iSupport systems\n\n"
    "### Urgency\n\nhigh: the user cannot use the system at all\n\n"
    "### Affected configuration items\n\ncase-management, database\n\n"
    "### What happened\n\nSaving a case fails with error 500 since this morning.\n"
)


@pytest.fixture
def repo(registry: Path) -> Path:
    shutil.copytree(REPO_ROOT / ".github", registry / ".github")  # the forms, CODEOWNERS
    return registry


def event(
    tmp_path: Path,
    body: str | None,
    label: str = "incident",
    title: str = "[Incident] Cases cannot be saved",
    fixture: int = 1,
) -> Path:
    payload: dict[str, Any] = json.loads((FIXTURES / f"issues.opened.{fixture}.json").read_text())
    payload["issue"].update(
        body=body, title=title, labels=[{"name": label}], created_at="2026-11-26T09:15:00Z"
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def test_incident_form_becomes_a_valid_record(run_cli: RunCli, repo: Path, tmp_path: Path) -> None:
    result = run_cli("intake", "--event", str(event(tmp_path, INCIDENT_BODY)), "--repo", str(repo))
    assert result.exit_code == 0, result.output
    rel = result.output.strip()
    assert rel.startswith("records/incidents/INC-2026-")
    text = (repo / rel).read_text()
    for line in [
        "title: Cases cannot be saved",
        "reporting_state: FR",
        "channel: github",
        "reported_at: '2026-11-26T09:15:00Z'",
        "impact: medium",
        "urgency: high",
        "- case-management",
        "status: reported",
    ]:
        assert f"\n{line}\n" in text, line
    assert "Reported through GitHub issue #1." in text
    check = run_cli("validate", str(repo / rel), "--repo", str(repo), "--at", FIXED_AT)
    assert check.exit_code == 0, check.output


def test_crlf_and_no_response_are_handled(run_cli: RunCli, repo: Path, tmp_path: Path) -> None:
    body = INCIDENT_BODY.replace("case-management, database", "_No response_")
    result = run_cli(
        "intake", "--event", str(event(tmp_path, body.replace("\n", "\r\n"))), "--repo", str(repo)
    )
    assert result.exit_code == 0, result.output
    assert "affected_cis: []" in (repo / result.output.strip()).read_text()


def test_the_text_area_cannot_spoof_an_earlier_field(
    run_cli: RunCli, repo: Path, tmp_path: Path
) -> None:
    body = INCIDENT_BODY + "\n### Urgency\n\nlow: the user cannot use another part\n"
    result = run_cli("intake", "--event", str(event(tmp_path, body)), "--repo", str(repo))
    text = (repo / result.output.strip()).read_text()
    assert "\nurgency: high\n" in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "isg: the issue has no body: it was not written with the issue form\n"),
        (
            "It looks like you accidently spelled 'commit' with two 't's.",
            "isg: the field 'Reporting State' is missing: use the issue form\n",
        ),
        (INCIDENT_BODY.replace("\nFR\n", "\nXX\n"), "isg: unknown State 'XX'\n"),
        (
            INCIDENT_BODY.replace("case-management, database", "warp-drive"),
            "isg: unknown configuration items: warp-drive\n",
        ),
        (
            INCIDENT_BODY.replace("since this morning", "for the debtor born on 12/03/1985"),
            "isg: not registered: the issue looks like it holds personal data (description: looks"
            " like a date of birth); edit the issue and remove it\n",
        ),
    ],
)
def test_refused_issues_write_nothing(
    run_cli: RunCli, repo: Path, tmp_path: Path, body: str | None, message: str
) -> None:
    before = sorted((repo / "records/incidents").iterdir())
    result = run_cli(
        "intake", "--event", str(event(tmp_path, body, fixture=2)), "--repo", str(repo)
    )
    assert (result.exit_code, result.output) == (2, message)
    assert sorted((repo / "records/incidents").iterdir()) == before


def test_local_change_rfc_form(run_cli: RunCli, repo: Path, tmp_path: Path) -> None:
    body = (
        "### Requesting State or organisation\n\nMT\n\n"
        "### Scope\n\nlocal: only my State's installation\n\n"
        "### Local change criteria\n\n- [X] No impact on the global iSupport system\n"
        "- [X] No impact on the functionality of iSupport in other States\n"
        "- [X] No impact on the maintenance of the global system\n\n"
        "### Proposed source change\n\nhttps://example.org/mt.patch\n\n"
        "### Affected configuration items\n\nreporting\n\n"
        "### The change and why it is needed\n\nAn extra column in the Maltese report.\n"
    )
    result = run_cli(
        "intake",
        "--event",
        str(event(tmp_path, body, label="rfc", title="[RfC] Extra column")),
        "--repo",
        str(repo),
    )
    assert result.exit_code == 0, result.output
    text = (repo / result.output.strip()).read_text()
    assert "\ntype: service-request\n" in text and "\nscope: local\n" in text
    assert "  no_maintenance_impact: true\n" in text
    assert (
        run_cli(
            "validate", str(repo / result.output.strip()), "--repo", str(repo), "--at", FIXED_AT
        ).exit_code
        == 0
    )
