"""Shared fixtures: the CLI runner, a fixed clock, a copy of the registry, a git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isg.cli import cli

pytest_plugins = ["site_fixtures", "site_builds"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Every test that needs "now" uses this instant (the embedded records are valid at it).
FIXED_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FIXED_AT = FIXED_NOW.isoformat()
# A French Central Authority's calendar: a lunch break, 7.5-hour days, French holidays and
# the Christmas Eve afternoon closure.
FRANCE_CALENDAR = {
    "timezone": "Europe/Paris",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "working_hours": ["09:00-12:30", "13:30-17:30"],
    "hours_per_day": 7.5,
    "holidays": {"country": "FR"},
    "closures": [{"date": "2026-12-24", "hours": ["13:30-17:30"], "reason": "Christmas Eve"}],
}


@pytest.fixture
def fixed_now() -> datetime:
    return FIXED_NOW


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A private copy of the repository's records/ and schemas/ to modify freely."""
    root = tmp_path / "registry"
    root.mkdir()
    shutil.copytree(REPO_ROOT / "records", root / "records")
    shutil.copytree(REPO_ROOT / "schemas", root / "schemas")
    return root


RunCli = Callable[..., Result]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run `isg ARGS...` in-process; `cwd` sets the working folder."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def edit_file(root: Path, rel: str, old: str, new: str) -> None:
    """Replace the first `old` in the file at `rel` under `root` with `new` (it must be there)."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def git(root: Path, *args: str, date: str = "2026-11-20T10:00:00+00:00") -> str:
    """Run git in `root` with a pinned author, committer and commit date."""
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


@pytest.fixture
def git_repo(registry: Path) -> Path:
    """The registry copy as a git repository with one commit (pinned dates) on `main`."""
    git(registry, "init", "-q", "-b", "main")
    git(registry, "add", "-A")
    git(registry, "commit", "-q", "-m", "registry")
    return registry


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths validation summarised (read and checked) in this process."""
    from isg import summaries

    seen: list[str] = []
    original = summaries.summarize_file

    def spy(path: str, *args: object) -> object:
        seen.append(path)
        return original(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(summaries, "summarize_file", spy)
    return seen
