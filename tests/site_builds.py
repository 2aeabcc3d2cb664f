"""Site builds through the CLI, for the tests of rebuilds (tests/cli/test_site_memo.py,
tests/cli/test_site_rebuild.py), a plugin of tests/conftest.py: a registry with the site's
templates (`repo`), one build, the files of a folder, a build without any store."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, RunCli

AT = "2026-11-27T12:00:00+00:00"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    return git_repo


def build(run_cli: RunCli, repo: Path, out: Path, *more: str) -> tuple[int, int]:
    """(files, pages rendered) of one build."""
    result = run_cli("site", "build", "--repo", str(repo), "--at", AT, "--out", str(out), *more)
    assert result.exit_code == 0, result.output
    found = re.search(r"^(\d+) files written .* (\d+) pages rendered$", result.output, re.M)
    assert found, result.output
    return int(found[1]), int(found[2])


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def fresh(
    run_cli: RunCli, repo: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, bytes]:
    """The site built without any memo, into an empty folder."""
    with monkeypatch.context() as patch:
        patch.setenv("ISG_NO_CACHE", "1")
        build(run_cli, repo, out)
    return tree(out)
