"""The benchmark harness runs end to end at a small size, so it never rots. No timings are
asserted here (they belong in docs/PERFORMANCE.md): only that every case ran and was
written into the table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT
from site_fixtures import missing

CASES = (
    "isg validate (cold: no cache)",
    "check-jsonschema (incidents, schema only)",
    "libyaml parse of every record (floor)",
    "isg validate (warm: nothing changed)",
    "isg validate --base (a PR touching 10 records)",
    "isg sla status --evidence (cold: no SLA store)",
    "isg sla status --evidence (warm: nothing changed)",
    "isg sla status --evidence (after a commit of 10 incidents)",
    "isg site build (full, into an empty folder)",
    "hugo (as many pages, into an empty folder)",
    "isg site build (one record changed)",
)


def _script(
    name: str, *args: str, env: dict[str, str] | None = None, timeout: int
) -> subprocess.CompletedProcess[str]:
    """benchmarks/`name` run with `args`, its output captured as text."""
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_harness_measures_every_case_at_a_small_size(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    path = bin_dir + os.pathsep + os.environ.get("PATH", "")
    for tool in ("hugo", "check-jsonschema", "isg"):
        if shutil.which(tool, path=path) is None:
            missing(tool)
    out = tmp_path / "PERFORMANCE.md"
    out.write_text("# notes kept\n<!-- bench:start -->\n<!-- bench:end -->\nAfter.\n")
    done = _script(
        "run.py",
        *("--sizes", "40", "--runs", "1", "--work", str(tmp_path / "work"), "--out", str(out)),
        env={**os.environ, "PATH": path},
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    for case in CASES:
        assert f"| 40 | {case} |" in text
    assert text.startswith("# notes kept\n") and text.endswith("After.\n")
    assert "| 40 | isg validate (cold: no cache) | " in text and "not installed" not in text


def test_the_phase_timeline_tells_each_phase_of_a_site_build(tmp_path: Path) -> None:
    """benchmarks/phases.py runs the command as `isg` would and tells, on stderr, when each
    phase of the parent began and ended; the command's own output and exit code are kept."""
    import re

    done = _script(
        "phases.py",
        *("site", "build", "--repo", str(REPO_ROOT / "tests" / "golden" / "registry")),
        *("--site-dir", str(REPO_ROOT / "site"), "--out", str(tmp_path / "site")),
        *("--at", "2026-11-27T12:00:00Z", "--no-history"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "files written to" in done.stdout
    phases = re.findall(r"^\[phase\] (\S+) +([\d.]+) -> +([\d.]+)$", done.stderr, re.M)
    names = [name for name, _, _ in phases]
    for name in ("load_registry", "gather", "evaluate_remembered", "build_site"):
        assert name in names, done.stderr
    assert all(float(began) <= float(ended) for _, began, ended in phases)
    assert re.search(r"^\[phase\] end +[\d.]+$", done.stderr, re.M)
