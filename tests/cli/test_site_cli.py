"""`isg site build`: where "as of" comes from and refusing invalid registries; `serve`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, RunCli


@pytest.fixture
def repo_with_site(git_repo: Path) -> Path:
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    return git_repo


def _as_of(out: Path) -> str:
    text = (out / "index.html").read_text()
    return text.split('Status as of <time datetime="', 1)[1].split('"', 1)[0]


def test_as_of_from_at_then_source_date_epoch_then_the_commit(
    run_cli: RunCli, repo_with_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = repo_with_site / "_site"
    result = run_cli(
        "site", "build", "--repo", str(repo_with_site), "--at", "2026-11-27T12:00:00+00:00"
    )
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        f"files written to {out} (status as of 2026-11-27T12:00:00+00:00)\n"
    )
    assert _as_of(out) == "2026-11-27T12:00:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")
    run_cli("site", "build", "--repo", str(repo_with_site))
    assert _as_of(out) == "2026-11-18T11:06:40+00:00"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    run_cli("site", "build", "--repo", str(repo_with_site))
    assert _as_of(out) == "2026-11-20T10:00:00+00:00"  # the pinned commit date


def test_invalid_registry_is_refused_and_the_old_site_kept(
    run_cli: RunCli, repo_with_site: Path
) -> None:
    assert (
        run_cli(
            "site", "build", "--repo", str(repo_with_site), "--at", "2026-11-27T12:00:00Z"
        ).exit_code
        == 0
    )
    before = (repo_with_site / "_site" / "index.html").read_bytes()
    incident = next((repo_with_site / "records/incidents").glob("*.yaml"))
    incident.write_text(incident.read_text().replace("impact: ", "impact: huge-", 1))
    result = run_cli("site", "build", "--repo", str(repo_with_site), "--at", "2026-11-28T12:00:00Z")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"isg: the registry does not validate, run isg validate: records/incidents/{incident.name}:"
    )
    assert (repo_with_site / "_site" / "index.html").read_bytes() == before


def test_serve_needs_a_built_site(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("site", "serve", "--repo", str(registry))
    assert result.exit_code == 2
    assert "run isg site build first" in result.output
