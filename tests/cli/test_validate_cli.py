"""`isg validate` end to end: formats, exit codes, --base lifecycle checks, hostile files."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXED_AT, RunCli, git

INCIDENT = "records/incidents/INC-2025-DA1H6.yaml"  # closed, priority 1
RFC_SUBMITTED = "records/rfcs/RFC-2026-0R57D.yaml"


def _replace(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_clean_registry_prints_summary_and_exits_0(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT)
    assert result.exit_code == 0
    assert result.output == (
        "108 records (7 states, 4 organisations, 16 members, 1 service-levels, 10 cis,"
        " 33 incidents, 4 problems, 3 known-errors, 13 rfcs, 4 releases, 6 knowledge,"
        " 2 budgets, 4 improvements, 1 governance): 0 problems\n"
    )


def test_findings_are_reported_with_position_and_hint(run_cli: RunCli, registry: Path) -> None:
    _replace(registry, INCIDENT, "impact: high", "impact: urgent")
    _replace(registry, INCIDENT, "urgency:", "urgncy:")
    result = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT)
    assert result.exit_code == 1
    assert result.output.splitlines()[:4] == [
        f"{INCIDENT}:2:1: $: 'urgency' is a required property",
        f"{INCIDENT}:11:9: $.impact: 'urgent' is not one of ['high', 'medium', 'low']",
        f"{INCIDENT}:12:1: $.urgncy: unknown key 'urgncy'",
        "  hint: did you mean 'urgency'?",
    ]
    assert result.output.endswith(": 3 problems\n")


def test_github_format_prints_escaped_annotations(run_cli: RunCli, registry: Path) -> None:
    _replace(registry, INCIDENT, "impact: high", "impact: urgent")
    result = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT, "--format", "github")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"::error file={INCIDENT},line=11,col=9,title=isg validate%3A schema::"
        "$.impact: 'urgent' is not one of ['high', 'medium', 'low']"
    )
    assert result.output.splitlines()[1].startswith("::notice title=isg validate::108 records")


def test_json_format_is_a_sorted_list(run_cli: RunCli, registry: Path) -> None:
    _replace(registry, INCIDENT, "impact: high", "impact: urgent")
    result = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT, "--format", "json")
    assert json.loads(result.output) == [
        {
            "column": 9,
            "file": INCIDENT,
            "hint": "",
            "line": 11,
            "message": "'urgent' is not one of ['high', 'medium', 'low']",
            "path": "$.impact",
            "rule": "schema",
        }
    ]


def test_paths_limit_what_is_reported(run_cli: RunCli, registry: Path) -> None:
    _replace(registry, INCIDENT, "impact: high", "impact: urgent")
    other = run_cli(
        "validate", str(registry / "records/rfcs"), "--repo", str(registry), "--at", FIXED_AT
    )
    assert other.exit_code == 0
    mine = run_cli("validate", str(registry / INCIDENT), "--repo", str(registry), "--at", FIXED_AT)
    assert mine.exit_code == 1


def test_every_broken_file_is_reported_not_just_the_first(run_cli: RunCli, registry: Path) -> None:
    (registry / "records/incidents/INC-2026-AAAAA.yaml").write_bytes(b"a: [\n")
    (registry / "records/incidents/INC-2026-BBBBB.yaml").write_bytes(b"\x00\xff binary")
    (registry / "records/incidents/INC-2026-CCCCC.yaml").write_bytes(b"a: " + b"x" * 2_000_000)
    (registry / "records/incidents/notes.txt").write_text("hello")
    (registry / "records/incidents/INC-2026-DDDDD.yml").write_text("id: x")
    (registry / "records/incidents/INC-2026-EEEEE.yaml").symlink_to("/etc/passwd")
    (registry / "records/stuff").mkdir()
    (registry / "records/stuff/x.yaml").write_text("id: x")
    result = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT)
    assert result.exit_code == 1
    assert result.output.splitlines()[:7] == [
        "records/incidents/INC-2026-AAAAA.yaml:2:1:"
        " YAML syntax: did not find expected node content",
        "records/incidents/INC-2026-BBBBB.yaml:1:1: not valid UTF-8 (byte 1)",
        "records/incidents/INC-2026-CCCCC.yaml:1:1: file is larger than 1024 KiB",
        "records/incidents/INC-2026-DDDDD.yml:1:1: record files end in .yaml, not .yml",
        "records/incidents/INC-2026-EEEEE.yaml:1:1:"
        " symbolic links and special files are not allowed in records/",
        "records/incidents/notes.txt:1:1:"
        " only .yaml records (and .patch/.diff beside RfCs) belong in records/",
        "records/stuff/x.yaml:1:1: records must be in records/<kind>/ where kind is one of:"
        " budgets, cis, governance, improvements, incidents, knowledge, known-errors, members,"
        " organisations, problems, releases, rfcs, service-levels, states",
    ]


def test_at_without_offset_is_a_usage_error(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("validate", "--repo", str(registry), "--at", "2026-11-27T12:00")
    assert result.exit_code == 2
    assert "needs a UTC offset" in result.output


def test_missing_registry_is_exit_2_without_traceback(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.output.startswith(f"isg: no registry found at or above {tmp_path}")


def test_broken_schema_is_exit_2(run_cli: RunCli, registry: Path) -> None:
    (registry / "schemas/ci.schema.json").write_text("{not json")
    result = run_cli("validate", "--repo", str(registry))
    assert result.exit_code == 2
    assert result.output.startswith("isg: schemas/ci.schema.json: cannot use this schema:")


# --- lifecycle against a base revision ------------------------------------------------------


def _validate_base(run_cli: RunCli, root: Path) -> list[str]:
    result = run_cli("validate", "--repo", str(root), "--at", FIXED_AT, "--base", "main")
    return result.output.splitlines()[:-1]


def test_unknown_base_revision_is_exit_2(run_cli: RunCli, git_repo: Path) -> None:
    result = run_cli("validate", "--repo", str(git_repo), "--base", "nope")
    assert result.exit_code == 2
    assert result.output == "isg: unknown git revision 'nope'\n"


def test_base_outside_git_is_exit_2(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("validate", "--repo", str(registry), "--base", "main")
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.output


def test_unchanged_tree_has_no_lifecycle_findings(run_cli: RunCli, git_repo: Path) -> None:
    assert _validate_base(run_cli, git_repo) == []


def test_rfc_cannot_jump_from_submitted_to_implemented(run_cli: RunCli, git_repo: Path) -> None:
    _replace(git_repo, RFC_SUBMITTED, "status: submitted", "status: withdrawn")
    assert _validate_base(run_cli, git_repo) == []
    _replace(git_repo, RFC_SUBMITTED, "status: withdrawn", "status: assessed")
    git(git_repo, "commit", "-qam", "withdraw")
    assert _validate_base(run_cli, git_repo)[0].startswith(RFC_SUBMITTED)


def test_status_jump_is_reported_with_allowed_transitions(run_cli: RunCli, git_repo: Path) -> None:
    rfc = "records/rfcs/RFC-2026-6Y03C.yaml"  # approved, with its decision
    _replace(git_repo, rfc, "status: approved", "status: closed")
    lines = _validate_base(run_cli, git_repo)
    assert f"{rfc}:22:9: $.status: status cannot change from approved to closed" in lines
    assert "  hint: from approved it can go to scheduled, implemented, withdrawn" in lines


def test_records_are_never_deleted(run_cli: RunCli, git_repo: Path) -> None:
    (git_repo / RFC_SUBMITTED).unlink()
    assert _validate_base(run_cli, git_repo) == [
        f"{RFC_SUBMITTED}:1:1: rfc RFC-2026-0R57D was deleted; records are never deleted",
        "  hint: restore the file and set its status to closed or withdrawn",
    ]


def test_new_rfc_starts_as_submitted(run_cli: RunCli, git_repo: Path) -> None:
    new = "records/rfcs/RFC-2026-NEW00.yaml"
    text = (git_repo / RFC_SUBMITTED).read_text().replace("RFC-2026-0R57D", "RFC-2026-NEW00")
    (git_repo / new).write_text(text.replace("status: submitted", "status: withdrawn"))
    assert _validate_base(run_cli, git_repo) == [
        f"{new}:11:9: $.status: a new rfc starts as submitted, not withdrawn"
    ]


def test_closed_incident_milestones_are_frozen(run_cli: RunCli, git_repo: Path) -> None:
    _replace(git_repo, INCIDENT, "  analysis: '2025-02-03T15", "  analysis: '2025-02-03T16")
    lines = _validate_base(run_cli, git_repo)
    assert any(
        line.endswith("$.milestones: milestones of a closed incident cannot change")
        for line in lines
    )
