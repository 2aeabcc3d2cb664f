"""What a site rebuild keeps of each incident (isg.render.rebuild, the page memo's
`rebuild_incidents`): a row an incident with what it is listed under, so that a rebuild
reads only the rows of the lists it makes again."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isg.render.page_memo import PageMemo
from isg.render.rebuild import _decoded, _kept_records, _kept_row, _replace_by_spare
from isg.render.site_look import state_digest

# Text that looks like the JSON between two rows, or a CI between newlines.
HOSTILE = st.sampled_from(["], [", "\n", "a\nb", '"', "ci-a", "ci-ab"]) | st.text(
    alphabet='ab]["\\, \n/ci-\u2028', max_size=8
)


def _incident(
    number: int, *, year: int = 2026, status: str = "closed", cis: list[str] | None = None
) -> list[Any]:
    thin = {
        "id": f"INC-{number}",
        "title": f"Title {number}",
        "status": status,
        "reported_at": f"{year}-03-01T10:00:00Z",
        "affected_cis": cis or [],
    }
    return [
        f"records/incidents/INC-{number}.yaml",
        f"blob{number}",
        f"INC-{number}",
        thin,
        3,
        "met",
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(HOSTILE, max_size=4), HOSTILE, st.sampled_from(["open", "closed"]))
def test_a_row_is_listed_under_its_year_state_and_each_ci_and_decodes_back(
    cis: list[str], title: str, status: str
) -> None:
    kept = _incident(1, year=2019, status=status, cis=cis)
    kept[3]["title"] = title
    path, blob, record_id, year, is_open, named, text = _kept_row(kept)
    assert (path, blob, record_id, year) == (kept[0], "blob1", "INC-1", 2019)
    assert is_open == (status == "open")
    assert named == "\n" + "".join(f"{ci}\n" for ci in dict.fromkeys(cis))
    assert _decoded([text, text]) == [kept, kept]
    assert json.loads(text) == kept


def test_an_incident_not_shown_is_in_no_list() -> None:
    kept = [*_incident(2)[:3], None, None, None]
    assert _kept_row(kept)[3:6] == (None, 0, "")


def test_a_rebuild_reads_the_rows_of_the_lists_it_makes_and_replaces_those_changed(
    tmp_path: Path,
) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.html").write_text("built")  # a folder built into before
    memo = PageMemo.open(tmp_path, tmp_path / "site", tmp_path / "out")
    rows = [
        _incident(1, year=2024, cis=["ci-a"]),
        _incident(2, year=2025, cis=["ci-ab"]),  # another CI whose ID begins as ci-a's
        _incident(3, year=2025, status="open"),
        _incident(4, year=2026, cis=["ci-b", "ci-a"]),
        _incident(5, year=2023),
    ]
    memo.keep_rebuild_state("{}", [_kept_row(row) for row in rows], every=True)
    assert memo.rebuild_state() == "{}"
    assert memo.kept_blobs() == [(row[0], row[1]) for row in rows]

    def listed(years: list[int], cis: list[str], ids: list[str] = []) -> list[str]:  # noqa: B006
        found = memo.kept_listed(years, cis, ids)
        assert found is not None
        return [row[2] for row in _decoded(found)]

    assert listed([], []) == ["INC-3"]  # the open ones, always
    assert listed([2025], []) == ["INC-2", "INC-3"]
    assert listed([], ["ci-a"]) == ["INC-1", "INC-3", "INC-4"]
    assert listed([2023], ["ci-ab"], ["INC-1"]) == ["INC-1", "INC-2", "INC-3", "INC-5"]
    assert listed([], ["ci"]) == ["INC-3"]  # a CI's ID is matched whole

    # The open incidents, a year's and those asked by ID are found through an index, not
    # by reading every incident kept (a patched rebuild asks only for the open and some IDs).
    assert memo.db is not None
    statements: list[str] = []
    memo.db.set_trace_callback(statements.append)
    try:
        assert listed([2025], [], ["INC-1", "INC-5"]) == ["INC-1", "INC-2", "INC-3", "INC-5"]
    finally:
        memo.db.set_trace_callback(None)
    asked = [text for text in statements if text.startswith("SELECT path, kept")]
    assert len(asked) == 3
    for text in asked:
        (plan,) = memo.db.execute(f"EXPLAIN QUERY PLAN {text}").fetchall()
        assert plan[3].startswith("SEARCH rebuild_incidents USING INDEX rebuild_incidents_"), plan

    changed = _incident(4, year=2026, cis=["ci-b", "ci-a"])
    changed[1], changed[3]["title"] = "blob4b", "New title"
    memo.keep_rebuild_state('{"v": 2}', [_kept_row(changed)], every=False)
    assert memo.rebuild_state() == '{"v": 2}'
    assert _decoded(
        memo.kept_of([changed[0], rows[0][0], "records/incidents/absent.yaml"]) or []
    ) == [
        rows[0],
        changed,
    ]
    assert len(memo.kept_blobs() or []) == 5
    # A full build again: only what differs is written (the state, one row, one removed).
    assert memo.db is not None
    written = memo.db.total_changes
    again = [_kept_row(row) for row in rows[:4]]
    again[0] = _kept_row([*rows[0][:3], {**rows[0][3], "title": "Retitled"}, 3, "met"])
    memo.keep_rebuild_state("{}", [again[0], *again[1:3], _kept_row(changed)], every=True)
    assert memo.db.total_changes - written == 3
    assert len(memo.kept_blobs() or []) == 4
    memo.forget_rebuild_state()
    assert memo.rebuild_state() is None
    memo.keep_rebuild_state("{}", [_kept_row(rows[0])], every=True)  # a full build: all again
    assert memo.kept_blobs() == [(rows[0][0], rows[0][1])]
    memo.close()


def test_what_a_full_build_keeps_of_the_other_records_a_rebuild_leaves_and_checks(
    tmp_path: Path,
) -> None:
    """The other records' part is written by full builds only (a rebuild keeps only its
    small state) and read only when it is the one the kept state names by its digest."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.html").write_text("built")
    memo = PageMemo.open(tmp_path, tmp_path / "site", tmp_path / "out")
    records = json.dumps({"others": {"records/cis/a.yaml": "b1"}, "shown_others": {"ci": {}}})
    named = {"records": state_digest(records)}
    memo.keep_rebuild_state(json.dumps(named), [], every=True, records=records)
    assert memo.rebuild_records() == records
    assert _kept_records(memo, named) == ({"records/cis/a.yaml": "b1"}, {"ci": {}})
    memo.keep_rebuild_state(json.dumps({**named, "v": 2}), [], every=False)  # a rebuild
    assert memo.rebuild_records() == records
    assert _kept_records(memo, {"records": state_digest(records + " ")}) is None
    assert _kept_records(memo, {}) is None
    memo.keep_rebuild_state("{}", [], every=True, records="[1]")  # not what a build keeps
    assert _kept_records(memo, {"records": state_digest("[1]")}) is None


def _spare_setup(tmp_path: Path) -> tuple[Path, Path]:
    out, cache = tmp_path / "site", tmp_path / "cache"
    (out / "data").mkdir(parents=True)
    cache.mkdir()
    (out / "data" / "records.json").write_bytes(b"first version, long enough\n")
    return out, cache


def test_a_large_file_is_replaced_through_the_spare_the_last_one_left(tmp_path: Path) -> None:
    """The first time the new file is made; after, it is written over the file replaced
    the time before (the same inode: no block allocated or freed), which the one it
    replaces becomes in turn. Nothing else is left behind."""
    out, cache = _spare_setup(tmp_path)
    target = out / "data" / "records.json"
    first = os.stat(target).st_ino
    assert _replace_by_spare(out, "data/records.json", [b"second ", memoryview(b"v\n")], cache, "s")
    assert target.read_bytes() == b"second v\n"
    (spare,) = cache.iterdir()
    assert spare.read_bytes() == b"first version, long enough\n"
    assert os.stat(spare).st_ino == first
    second = os.stat(target).st_ino
    assert _replace_by_spare(out, "data/records.json", [b"third\n"], cache, "s")
    assert target.read_bytes() == b"third\n"  # shorter than the spare it was written over
    assert os.stat(target).st_ino == first
    assert [p.name for p in cache.iterdir()] == [spare.name]
    assert os.stat(spare).st_ino == second and spare.read_bytes() == b"second v\n"
    assert sorted(p.name for p in out.rglob("*")) == ["data", "records.json"]


def test_a_spare_with_another_name_is_not_written_over(tmp_path: Path) -> None:
    """A copy of the site made with hard links shares its files' inodes: the spare it
    still names keeps its bytes, and a new file is written instead."""
    out, cache = _spare_setup(tmp_path)
    assert _replace_by_spare(out, "data/records.json", [b"second\n"], cache, "s")
    (spare,) = cache.iterdir()
    backup = tmp_path / "backup-records.json"
    os.link(spare, backup)
    assert _replace_by_spare(out, "data/records.json", [b"third\n"], cache, "s")
    assert backup.read_bytes() == b"first version, long enough\n"
    assert (out / "data" / "records.json").read_bytes() == b"third\n"


def test_a_spare_that_cannot_be_used_leaves_the_site_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On another file system (no link from the site to the spares' folder) nothing is
    changed and False says so: the caller writes the file as any other."""
    out, cache = _spare_setup(tmp_path)

    def refused(*_: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refused)
    assert not _replace_by_spare(out, "data/records.json", [b"new\n"], cache, "s")
    assert (out / "data" / "records.json").read_bytes() == b"first version, long enough\n"
    assert list(cache.iterdir()) == []
