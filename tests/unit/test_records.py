"""Reading one record file: its bytes, or the marker that says why they were not read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isg import records
from isg.records import (
    LINK_MARKER,
    TOO_LARGE_MARKER,
    UNREADABLE_MARKER,
    file_problem,
    read_one,
)
from isg.safe_yaml import MAX_BYTES

REL = "records/incidents/INC-2026-00001.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "records/incidents").mkdir(parents=True)
    return tmp_path


def test_a_file_is_read_whole(root: Path) -> None:
    (root / REL).write_bytes(b"id: INC-2026-00001\n" * 1000)
    assert read_one(root, REL) == b"id: INC-2026-00001\n" * 1000
    assert read_one(str(root), REL) == b"id: INC-2026-00001\n" * 1000
    (root / REL).write_bytes(b"")
    assert read_one(root, REL) == b""


def test_links_folders_fifos_and_missing_files_are_not_read(root: Path) -> None:
    (root / "target.yaml").write_text("id: x\n")
    (root / REL).symlink_to(root / "target.yaml")
    (root / "records/incidents/folder.yaml").mkdir()
    os.mkfifo(root / "records/incidents/fifo.yaml")  # opening it for reading would block
    for rel in (REL, "records/incidents/folder.yaml", "records/incidents/fifo.yaml"):
        assert read_one(root, rel) == LINK_MARKER
    assert read_one(root, "records/incidents/gone.yaml") == LINK_MARKER
    assert read_one(root, f"{REL}/below-a-file.yaml") == LINK_MARKER
    assert file_problem(REL, LINK_MARKER) == (
        "symbolic links and special files are not allowed in records/"
    )


def test_a_file_over_the_bound_is_not_read(root: Path) -> None:
    (root / REL).write_bytes(b"x" * MAX_BYTES)
    assert len(read_one(root, REL)) == MAX_BYTES
    (root / REL).write_bytes(b"x" * (MAX_BYTES + 1))
    assert read_one(root, REL) == TOO_LARGE_MARKER


def test_a_file_that_grew_after_its_size_was_taken_is_read_to_its_end_or_the_bound(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lstat = os.lstat

    def stale(path: str) -> os.stat_result:  # the size before the file grew
        found = list(real_lstat(path))
        found[6] = 10  # st_size
        return os.stat_result(found)

    monkeypatch.setattr(records.os, "lstat", stale)
    (root / REL).write_bytes(b"y" * 300_000)
    assert read_one(root, REL) == b"y" * 300_000
    (root / REL).write_bytes(b"y" * (MAX_BYTES + 5))
    assert read_one(root, REL) == TOO_LARGE_MARKER


def test_a_file_that_cannot_be_opened_says_why(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / REL).write_text("id: x\n")

    def refused(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(records.os, "open", refused)
    found = read_one(root, REL)
    assert found == UNREADABLE_MARKER + b"Permission denied"
    assert file_problem(REL, found) == "cannot read the file: Permission denied"


def test_a_file_replaced_by_a_link_after_its_lstat_is_not_followed(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "target.yaml").write_text("secret\n")
    (root / REL).write_text("id: x\n")
    real_lstat = os.lstat

    def then_swapped(path: str) -> os.stat_result:
        found = real_lstat(path)
        os.unlink(path)
        os.symlink(root / "target.yaml", path)
        return found

    monkeypatch.setattr(records.os, "lstat", then_swapped)
    assert read_one(root, REL) == LINK_MARKER
