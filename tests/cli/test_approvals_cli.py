"""`isg approvals check` and `isg codeowners` on a real git repository."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXED_AT, RunCli, git
from test_approvals_helpers import review_json

MT_RFC = "records/rfcs/RFC-2026-GS4XV.yaml"


def _approve(root: Path) -> str:
    path = root / MT_RFC
    path.write_text(
        path.read_text().replace(
            "status: assessed\n",
            "status: approved\ndecision:\n  outcome: approved\n"
            "  at: '2026-11-27T09:00:00+01:00'\n  by: cab\n",
        )
    )
    git(root, "checkout", "-q", "-b", "approve")
    git(root, "commit", "-qam", "Approve the Maltese local change")
    return git(root, "rev-parse", "HEAD").strip()


def _check(run_cli: RunCli, root: Path, reviews: list[dict[str, object]], *extra: str):  # type: ignore[no-untyped-def]
    reviews_file = root.parent / "reviews.json"
    reviews_file.write_text(json.dumps(reviews))
    return run_cli(
        "approvals",
        "check",
        "--base",
        "main",
        "--head",
        "approve",
        "--reviews",
        str(reviews_file),
        "--author",
        "mt-delegate-demo",
        "--at",
        FIXED_AT,
        "--repo",
        str(root),
        *extra,
    )


def test_quorum_on_the_head_commit_may_merge(run_cli: RunCli, git_repo: Path) -> None:
    head = _approve(git_repo)
    members = ["pb-coordinator", "sp-service-manager", "fr-delegate", "br-delegate"]
    result = _check(
        run_cli, git_repo, [review_json(git_repo, m, head, i) for i, m in enumerate(members)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "cab/approval: may merge",
        "OK: the CAB",
        f"  because {MT_RFC}: RfC RFC-2026-GS4XV becomes approved (normal change)",
    ]


def test_a_push_touching_the_rfc_makes_earlier_approvals_stale(
    run_cli: RunCli, git_repo: Path
) -> None:
    first = _approve(git_repo)
    members = ["pb-coordinator", "sp-service-manager", "fr-delegate", "br-delegate"]
    reviews = [review_json(git_repo, m, first, i) for i, m in enumerate(members)]
    # A push that touches another file keeps the approvals...
    (git_repo / "NOTES.md").write_text("notes\n")
    git(git_repo, "add", "NOTES.md")
    git(git_repo, "commit", "-qm", "notes")
    assert _check(run_cli, git_repo, reviews).exit_code == 1  # NOTES.md needs the PB's rule
    # ...but one that touches the RfC makes them stale.
    path = git_repo / MT_RFC
    path.write_text(path.read_text().replace("risk: medium", "risk: high"))
    git(git_repo, "commit", "-qam", "change the risk")
    result = _check(run_cli, git_repo, reviews, "--format", "json")
    data = json.loads(result.stdout)
    cab = next(rule for rule in data["rules"] if rule["name"] == "cab")
    assert cab["counted"] == []
    assert len(cab["not_counted"]) == 4
    assert result.exit_code == 1


def test_markdown_for_the_job_summary(run_cli: RunCli, git_repo: Path) -> None:
    head = _approve(git_repo)
    result = _check(
        run_cli,
        git_repo,
        [review_json(git_repo, "pb-coordinator", head, 0)],
        "--format",
        "markdown",
    )
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == [
        "## cab/approval: may not merge yet (the CAB)",
        "",
        "### NOT YET: the CAB",
    ]


def test_bad_reviews_file_is_exit_2(run_cli: RunCli, git_repo: Path) -> None:
    _approve(git_repo)
    bad = git_repo.parent / "bad.json"
    bad.write_text("{oops")
    result = run_cli(
        "approvals",
        "check",
        "--base",
        "main",
        "--head",
        "approve",
        "--reviews",
        str(bad),
        "--author",
        "x",
        "--repo",
        str(git_repo),
    )
    assert result.exit_code == 2
    assert result.output.startswith("isg: reviews are not JSON:")


def test_reviews_from_stdin(run_cli: RunCli, git_repo: Path) -> None:
    from click.testing import CliRunner

    from isg.cli import cli

    head = _approve(git_repo)
    reviews = json.dumps([review_json(git_repo, "pb-coordinator", head, 0)])
    result = CliRunner().invoke(
        cli,
        [
            "approvals",
            "check",
            "--base",
            "main",
            "--head",
            "approve",
            "--reviews",
            "-",
            "--author",
            "x",
            "--repo",
            str(git_repo),
            "--at",
            FIXED_AT,
        ],
        input=reviews,
    )
    assert result.exit_code == 1
    assert "counted: pb-coordinator as Permanent Bureau (cab)" in result.output


# --- CODEOWNERS ------------------------------------------------------------------------------


def test_codeowners_is_generated_and_checked_by_validate(run_cli: RunCli, registry: Path) -> None:
    (registry / ".github").mkdir()
    missing = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT)
    assert missing.exit_code == 1
    assert ".github/CODEOWNERS:1:1: missing" in missing.output
    assert run_cli("codeowners", "--repo", str(registry)).exit_code == 0
    text = (registry / ".github/CODEOWNERS").read_text()
    assert "\n/schemas/                 @pb-coordinator-demo @pb-lawyer-demo\n" in text
    assert run_cli("validate", "--repo", str(registry), "--at", FIXED_AT).exit_code == 0
    member = registry / "records/members/pb-lawyer.yaml"
    member.write_text(member.read_text().replace("organisation: hcch-pb", "organisation: ncsea"))
    stale = run_cli("validate", "--repo", str(registry), "--at", FIXED_AT)
    assert ".github/CODEOWNERS:1:1: out of date with the records" in stale.output
    assert run_cli("codeowners", "--check", "--repo", str(registry)).exit_code == 1


def test_record_writes_who_approved_into_the_rfc(run_cli: RunCli, git_repo: Path) -> None:
    head = _approve(git_repo)
    members = ["pb-coordinator", "sp-service-manager", "fr-delegate", "br-delegate"]
    reviews_file = git_repo.parent / "reviews.json"
    reviews_file.write_text(
        json.dumps([review_json(git_repo, m, head, i) for i, m in enumerate(members)])
    )
    result = run_cli(
        "approvals",
        "record",
        "--base",
        "main",
        "--head",
        "approve",
        "--reviews",
        str(reviews_file),
        "--author",
        "mt-delegate-demo",
        "--pr",
        "7",
        "--at",
        FIXED_AT,
        "--repo",
        str(git_repo),
    )
    assert (result.exit_code, result.output) == (0, f"{MT_RFC}\n")
    text = (git_repo / MT_RFC).read_text()
    assert text.split("decision:\n", 1)[1].split("cis:", 1)[0] == (
        "  outcome: approved\n  at: '2026-11-27T09:00:00+01:00'\n  by: cab\n"
        "  pull_request: 7\n  approvals:\n"
        "  - member: pb-coordinator\n    as: Permanent Bureau (cab)\n"
        "    at: '2026-11-27T10:00:00+00:00'\n"
        "  - member: sp-service-manager\n    as: Service Provider (cab)\n"
        "    at: '2026-11-27T10:01:00+00:00'\n"
        "  - member: fr-delegate\n    as: State FR (cab)\n    at: '2026-11-27T10:02:00+00:00'\n"
        "  - member: br-delegate\n    as: State BR (cab)\n    at: '2026-11-27T10:03:00+00:00'\n"
    )
    assert (
        run_cli(
            "validate", str(git_repo / MT_RFC), "--repo", str(git_repo), "--at", FIXED_AT
        ).exit_code
        == 0
    )


def test_watch_lists_emergency_changes_owing_a_retrospective_review(
    run_cli: RunCli, registry: Path
) -> None:
    emergency = next(
        p for p in (registry / "records/rfcs").glob("*.yaml") if "type: emergency" in p.read_text()
    )
    text = emergency.read_text()
    emergency.write_text(
        "\n".join(line for line in text.splitlines() if "retrospective_review" not in line) + "\n"
    )
    result = run_cli("sla", "watch", "--at", FIXED_AT, "--repo", str(registry))
    lines = result.output.splitlines()
    index = lines.index("Emergency changes awaiting the full CAB's retrospective review:")
    assert lines[index + 1].startswith(f"{emergency.stem} eCAB decision 2026-01-12T13:30:00+01:00")
