"""The site of a small fixed registry, byte for byte. After an intended change of the
templates or pages, regenerate with `make golden` and review the diff before committing."""

from __future__ import annotations

import difflib
from pathlib import Path

from conftest import REPO_ROOT
from site_fixtures import build

GOLDEN = Path(__file__).parent
REGISTRY = GOLDEN / "registry"
EXPECTED = GOLDEN / "expected"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_golden_registry_uses_the_repositorys_schemas() -> None:
    repo = _tree(REPO_ROOT / "schemas")
    assert _tree(REGISTRY / "schemas") == repo, "run make golden (it copies the schemas)"


def test_built_site_matches_the_golden_tree(tmp_path: Path) -> None:
    built = _tree(build(REGISTRY, tmp_path / "site"))
    expected = _tree(EXPECTED)
    assert sorted(built) == sorted(expected), "run make golden and review the diff"
    for name in sorted(expected):
        if built[name] != expected[name]:
            diff = difflib.unified_diff(
                expected[name].decode(errors="replace").splitlines(),
                built[name].decode(errors="replace").splitlines(),
                f"expected/{name}",
                f"built/{name}",
                lineterm="",
                n=2,
            )
            raise AssertionError("\n".join(list(diff)[:40]) + "\n(run make golden if intended)")
