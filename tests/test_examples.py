"""Example records: each valid one validates cleanly; each invalid one yields exactly the
findings its `# expect:` lines list (LINE:COL: $.path: message). A new case is a new file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXED_NOW
from isg.validation import validate_repository

EXAMPLES = Path(__file__).parent / "examples"
EXPECT = "# expect: "


def _examples(group: str) -> list[Path]:
    return sorted((EXAMPLES / group).rglob("*.yaml"))


def _findings_for_example(registry: Path, example: Path, group: str) -> list[str]:
    rel = example.relative_to(EXAMPLES / group).as_posix()
    target = registry / "records" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(example, target)
    result = validate_repository(registry, now=FIXED_NOW, paths=[f"records/{rel}"])
    return [
        f"{f.line}:{f.column}: {f.json_path + ': ' if f.json_path else ''}{f.message}"
        for f in result.findings
    ]


@pytest.mark.parametrize("example", _examples("valid"), ids=lambda p: p.name)
def test_valid_example_has_no_findings(registry: Path, example: Path) -> None:
    assert _findings_for_example(registry, example, "valid") == []


@pytest.mark.parametrize("example", _examples("invalid"), ids=lambda p: p.name)
def test_invalid_example_has_exactly_the_expected_findings(registry: Path, example: Path) -> None:
    expected = [
        line[len(EXPECT) :]
        for line in example.read_text(encoding="utf-8").splitlines()
        if line.startswith(EXPECT)
    ]
    assert expected, f"{example} lists no '# expect:' lines"
    assert _findings_for_example(registry, example, "invalid") == expected
