"""The SLA store against the definition: through commits, uncommitted edits, a merge that
changes which commit first recorded a time, a reset, a calendar change and an earlier `--at`,
`sla status --format json` with the store prints byte for byte what it prints without one,
and evaluates only the incidents it must."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXED_AT, FIXED_NOW, REPO_ROOT, RunCli, edit_file, git
from isg.layout import CACHE_DIR
from isg.record_cache import load_registry
from isg.render import rebuild
from isg.schemas import load_schemas
from isg.sla import memory as memory_module
from isg.sla.incident import IncidentStatus
from isg.sla.memory import (
    STORE_FILE,
    evaluate_remembered,
    shown_from_json,
    status_from_json,
    status_json,
    status_json_lines,
)
from isg.sla.output import ShownStatus, describe_priority, json_document, shown_status
from isg.sla.run import evaluate_registry

INCIDENTS = "records/incidents"
CLOSED = 19  # of the 33 embedded incidents, closed by FIXED_NOW
OPEN = 14
ALL = CLOSED + OPEN


ZONES = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=3)),
    ZoneInfo("Europe/Lisbon"),
    ZoneInfo("America/Sao_Paulo"),
    ZoneInfo("Australia/Lord_Howe"),
]


def _document(root: Path, *, use_cache: bool, evidence: bool = True, now: datetime = FIXED_NOW):
    """(the JSON document, how many incidents were evaluated rather than reused)."""
    items = list(status_json_lines(root, now=now, evidence=evidence, use_cache=use_cache))
    text = "".join(json_document((i.text for i in items if i.text is not None), now))
    return text, sum(1 for i in items if i.text is not None and not i.reused)


def _same(root: Path, evaluated: int, **kw: object) -> str:
    """The document with the store equals the one without; `evaluated` were worked out."""
    remembered, count = _document(root, use_cache=True, **kw)  # type: ignore[arg-type]
    definition, _ = _document(root, use_cache=False, **kw)  # type: ignore[arg-type]
    assert remembered == definition
    assert count == evaluated
    return remembered


def _commit(root: Path, message: str, date: str) -> None:
    git(root, "add", "-A", date=date)
    git(root, "commit", "-qm", message, date=date)


def _evidence_of(document: str, incident: str, milestone: str) -> dict[str, object]:
    found = next(i for i in json.loads(document)["incidents"] if i["id"] == incident)
    return next(m for m in found["milestones"] if m["milestone"] == milestone)["evidence"]


CLOSED_ONE = f"{INCIDENTS}/INC-2025-04AVC.yaml"
CLOSED_TWO = f"{INCIDENTS}/INC-2025-1DD6C.yaml"
OPEN_ONE = f"{INCIDENTS}/INC-2026-4ADP7.yaml"


def test_the_store_answers_as_a_full_run_through_a_history(git_repo: Path) -> None:
    root = git_repo
    _same(root, ALL)  # the first run fills the store
    _same(root, OPEN)  # nothing changed: closed incidents come from the store

    edit_file(root, OPEN_ONE, "title: ", "title: Still open, ")
    _commit(root, "an open incident edited", "2026-11-21T10:00:00+00:00")
    _same(root, OPEN)  # a new commit, read on its own

    edit_file(root, CLOSED_ONE, "title: ", "title: Renamed, ")
    _same(root, OPEN + 1)  # uncommitted: its file's blob changed
    _commit(root, "a closed incident renamed", "2026-11-21T11:00:00+00:00")
    _same(root, OPEN)  # committed as it was: the line kept for that blob still holds

    # A time rewritten on main, then the same time recorded on a branch dated earlier:
    # after the merge the branch's commit is first (git log follows the branch, whose tree
    # the merge kept), so the incident's evidence changes though its file did not.
    git(root, "branch", "side", "HEAD")
    edit_file(
        root,
        CLOSED_ONE,
        "knowledge_documented: '2025-07-14T09:10:00+02:00'",
        "knowledge_documented: '2025-07-14T10:10:00+02:00'",
    )
    _commit(root, "closing corrected on main", "2026-11-23T10:00:00+00:00")
    on_main = _same(root, OPEN + 1)
    git(root, "checkout", "-q", "side")
    edit_file(
        root,
        CLOSED_ONE,
        "knowledge_documented: '2025-07-14T09:10:00+02:00'",
        "knowledge_documented: '2025-07-14T10:10:00+02:00'",
    )
    edit_file(root, CLOSED_TWO, "title: ", "title: Side, ")
    _commit(root, "the same correction, earlier, on a branch", "2026-11-22T10:00:00+00:00")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-edit", "side", date="2026-11-24T10:00:00+00:00")
    merged = _same(root, OPEN + 2)  # CLOSED_ONE (evidence) and CLOSED_TWO (its file)
    assert _evidence_of(on_main, "INC-2025-04AVC", "knowledge_documented")[
        "committed_at"
    ].startswith("2026-11-23")
    assert _evidence_of(merged, "INC-2025-04AVC", "knowledge_documented")[
        "committed_at"
    ].startswith("2026-11-22")
    _same(root, OPEN)

    git(root, "reset", "-q", "--hard", "HEAD~1")  # the store is ahead of HEAD
    _same(root, OPEN + 2)

    # A closure in a State's calendar: every deadline may move, nothing is reused.
    edit_file(
        root,
        "records/states/NL.yaml",
        "  closures:\n",
        "  closures:\n  - date: '2025-07-01'\n    reason: Strike\n",
    )
    _same(root, ALL)
    _same(root, OPEN)

    # Looked at before it closed, an incident is evaluated at that time, not reused: only
    # the five closed before 2025-07-14T13:10+02:00 (INC-2025-04AVC's closing) are.
    before = datetime.fromisoformat("2025-07-14T13:09:00+02:00")
    assert _closed_before(root, before) == 5
    _same(root, ALL - 5, now=before)

    _same(root, ALL, evidence=False)  # lines without evidence are kept apart
    _same(root, OPEN, evidence=False)


def _closed_before(root: Path, moment: datetime) -> int:
    closings = [
        datetime.fromisoformat(line.split("'")[1])
        for path in (root / INCIDENTS).glob("*.yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("  closed: ")
    ]
    return sum(1 for closing in closings if closing <= moment)


def _store(root: Path) -> Path:
    return root / CACHE_DIR / STORE_FILE


def test_a_broken_store_is_replaced_and_a_planted_one_never_read(git_repo: Path) -> None:
    expected, _ = _document(git_repo, use_cache=False)
    _store(git_repo).parent.mkdir(parents=True)
    _store(git_repo).write_bytes(b"not a database" * 100)
    assert _document(git_repo, use_cache=True) == (expected, ALL)
    assert _document(git_repo, use_cache=True) == (expected, OPEN)

    # A line planted in the store of a repository whose .isg/ git tracks is never used.
    db = sqlite3.connect(_store(git_repo))
    db.execute("UPDATE lines SET line = ?", (zlib.compress(b'{"planted": true}'),))
    db.commit()
    db.close()
    git(git_repo, "add", "-f", ".isg")
    git(git_repo, "commit", "-qm", "a cache, committed")
    assert _document(git_repo, use_cache=True) == (expected, ALL)
    git(git_repo, "rm", "-rq", "--cached", ".isg")
    git(git_repo, "commit", "-qm", "cache untracked again")
    planted, _ = _document(git_repo, use_cache=True)
    assert '"planted"' in planted  # the lie would have been told: the check above matters


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE statuses SET status = '{\"incident_id\": 1}'",
        "UPDATE statuses SET status = 'not json'",
        "UPDATE lines SET line = 42",
        "UPDATE lines SET line = 'half a li'",
        "UPDATE lines SET line = substr(line, 1, 20)",  # cut short
        "UPDATE statuses SET status = substr(status, 1, 20)",
        "UPDATE statuses SET digest = x'00'",
        "UPDATE statuses SET status = 7",
        "UPDATE seen SET instant = 'soon'",
        "UPDATE seen SET committed = '2026-11-20T10:00:00'",  # no offset
        "UPDATE seen SET committed = 'yesterday'",
    ],
)
def test_damaged_rows_are_never_taken_for_answers(
    run_cli: RunCli, git_repo: Path, damage: str
) -> None:
    """The definition is a run without the store; a damaged row costs work, never a wrong
    line, a wrong status or a traceback."""
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    json_args = ("sla", "status", "--evidence", "--at", FIXED_AT, "--format", "json")
    text_args = ("sla", "status", "--evidence", "--at", FIXED_AT)
    site_args = ("site", "build", "--at", FIXED_AT, "--no-history")
    expected = {}
    for args in (json_args, text_args):  # fills the store (lines, statuses, seen)
        expected[args] = run_cli(*args, "--repo", str(git_repo)).stdout
    run_cli(*site_args, "--repo", str(git_repo), "--out", str(git_repo / "one"))
    with sqlite3.connect(_store(git_repo)) as db:
        db.execute(damage)
    for args in (json_args, text_args):
        result = run_cli(*args, "--repo", str(git_repo))
        assert result.exit_code == 0 and result.stdout == expected[args], args
    run_cli(*site_args, "--repo", str(git_repo), "--out", str(git_repo / "two"))
    one, two = git_repo / "one", git_repo / "two"
    assert [p.read_bytes() for p in sorted(one.rglob("*.html"))] == [
        p.read_bytes() for p in sorted(two.rglob("*.html"))
    ]


def test_a_store_failing_mid_run_falls_back_to_the_full_answer(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, _ = _document(git_repo, use_cache=False)
    _document(git_repo, use_cache=True)

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    for method in ("update_history", "lines", "first_seen", "keep"):
        with monkeypatch.context() as patch:
            patch.setattr(memory_module.SlaMemory, method, fail)
            assert _document(git_repo, use_cache=True)[0] == expected, method


def test_the_cli_uses_the_store_unless_told_not_to(
    run_cli: RunCli, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("sla", "status", "--evidence", "--at", FIXED_AT, "--format", "json")
    first = run_cli(*args, "--repo", str(git_repo))
    assert first.exit_code == 0 and _store(git_repo).exists()
    with sqlite3.connect(_store(git_repo)) as db:
        assert db.execute("SELECT count(*) FROM lines").fetchone() == (CLOSED,)
        db.execute("UPDATE lines SET line = ?", (zlib.compress(b'{"stale": true}'),))
    assert '"stale"' in run_cli(*args, "--repo", str(git_repo)).stdout  # read from the store
    monkeypatch.setenv("ISG_NO_CACHE", "1")
    assert run_cli(*args, "--repo", str(git_repo)).stdout == first.stdout


def test_closed_lines_do_not_depend_on_when_they_are_looked_at(git_repo: Path) -> None:
    """The ground the store stands on: a closed incident's line is the same a day and ten
    years after the closing."""
    later = FIXED_NOW + timedelta(days=3650)
    soon, _ = _document(git_repo, use_cache=False)
    far, _ = _document(git_repo, use_cache=False, now=later)
    closed = [
        (a, b)
        for a, b in zip(json.loads(soon)["incidents"], json.loads(far)["incidents"], strict=True)
        if a["status"] == "closed"
    ]
    assert len(closed) == CLOSED and all(a == b for a, b in closed)


# --- whole statuses, for the site and the text commands -----------------------------------


def _statuses(root: Path, now: datetime = FIXED_NOW) -> list[IncidentStatus]:
    registry = load_registry(root, load_schemas(root), use_cache=False)
    return evaluate_registry(registry, load_schemas(root), now=now).statuses


@pytest.mark.parametrize("at", [FIXED_AT, "2026-03-10T09:00:00+01:00"])
def test_a_status_read_back_is_the_status_kept(git_repo: Path, at: str) -> None:
    """Every field, zones and microseconds included (repr shows a ZoneInfo against a fixed
    offset, which == would not), incidents with pauses and eCAB duties among them."""
    statuses = _statuses(git_repo, datetime.fromisoformat(at))
    assert any(s.pauses for s in statuses) and any(s.ecab for s in statuses)
    for status in statuses:
        assert repr(status_from_json(status_json(status))) == repr(status)


def test_the_stored_form_names_every_field_of_each_class_in_order() -> None:
    """status_json writes fields by position: a field added to a status class without being
    added there would be lost (or shift the others) on the way back."""
    from dataclasses import fields

    from isg.sla.memory import STATUS_FIELDS

    for cls, order in STATUS_FIELDS.items():
        assert order == tuple(f.name for f in fields(cls)), cls.__name__


@pytest.mark.parametrize("looked_up", [2000, 0])  # statuses looked up by incident, or all read
def test_statuses_of_closed_incidents_are_reused_and_equal(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, looked_up: int
) -> None:
    from isg.sla import memory
    from isg.sla import run as run_module

    monkeypatch.setattr(memory, "LOOKED_UP", looked_up)

    evaluated: list[str] = []
    original = run_module.evaluate_incident

    def spy(data: dict[str, object], *args: object, **kw: object) -> IncidentStatus:
        evaluated.append(str(data["id"]))
        return original(data, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "evaluate_incident", spy)

    def remembered() -> list[str]:
        registry = load_registry(git_repo, load_schemas(git_repo))
        run = evaluate_remembered(git_repo, registry, load_schemas(git_repo), now=FIXED_NOW)
        return [repr(s) for s in run.statuses]

    expected = [repr(s) for s in _statuses(git_repo)]
    evaluated.clear()
    assert remembered() == expected and len(evaluated) == ALL
    evaluated.clear()
    assert remembered() == expected and len(evaluated) == OPEN
    edit_file(git_repo, CLOSED_ONE, "title: ", "title: Renamed, ")
    evaluated.clear()
    after_edit = remembered()
    assert len(evaluated) == OPEN + 1 and "INC-2025-04AVC" in evaluated
    assert after_edit == [repr(s) for s in _statuses(git_repo)]
    # As of its closing instant a kept status is reused; a microsecond before, it is not
    # (INC-2026-KXEYM closed at 2026-10-28T15:30:00-04:00, 19:30 UTC).
    closing = datetime(2026, 10, 28, 19, 30, tzinfo=UTC)
    for now, reused in ((closing, True), (closing - timedelta(microseconds=1), False)):
        registry = load_registry(git_repo, load_schemas(git_repo))
        evaluated.clear()
        run = evaluate_remembered(git_repo, registry, load_schemas(git_repo), now=now)
        assert ("INC-2026-KXEYM" not in evaluated) is reused, now
        assert [repr(s) for s in run.statuses] == [repr(s) for s in _statuses(git_repo, now)]
        lazy = evaluate_remembered(git_repo, registry, load_schemas(git_repo), now=now, lazy=True)
        assert ("INC-2026-KXEYM" in lazy.kept) is reused, now


def test_a_site_built_with_the_store_is_the_site_built_without(
    run_cli: RunCli, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")

    def build(out: Path) -> dict[str, bytes]:
        args = ("site", "build", "--repo", str(git_repo), "--at", FIXED_AT, "--out", str(out))
        assert run_cli(*args).exit_code == 0
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    filled = build(tmp_path / "one")
    with sqlite3.connect(_store(git_repo)) as db:
        assert db.execute("SELECT count(*) FROM statuses").fetchone() == (CLOSED,)
    reused = build(tmp_path / "two")
    monkeypatch.setenv("ISG_NO_CACHE", "1")
    assert filled == reused == build(tmp_path / "three")


def test_a_site_build_decodes_only_the_remembered_statuses_it_shows_whole(
    run_cli: RunCli, git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists need a remembered status's priority, worst state and year, which the store
    keeps beside it; a page, what it shows of it (`shown_from_json`). A build decodes whole
    only the statuses whose year's report it makes or which the SLA chart draws, and reads
    what a page shows only for the pages it renders."""
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    whole: list[str] = []
    shown: list[str] = []
    original, original_shown = memory_module.status_from_json, memory_module.shown_from_json

    def spy(text: str) -> IncidentStatus:
        status = original(text)
        whole.append(status.incident_id)
        return status

    def spy_shown(text: str) -> ShownStatus:
        status = original_shown(text)
        shown.append(status.incident_id)
        return status

    monkeypatch.setattr(memory_module, "status_from_json", spy)
    monkeypatch.setattr(memory_module, "shown_from_json", spy_shown)
    args = ("site", "build", "--repo", str(git_repo), "--at", FIXED_AT, "--no-history")
    assert run_cli(*args, "--out", str(tmp_path / "one")).exit_code == 0  # fills the store
    # A new folder: every page is rendered, every year's report kept from the first build.
    whole.clear()
    shown.clear()
    assert run_cli(*args, "--out", str(tmp_path / "two")).exit_code == 0
    assert sorted(set(shown)) == sorted(shown) and len(shown) == CLOSED
    chart = (tmp_path / "two" / "sla.svg").read_text(encoding="utf-8")
    assert whole and all(f">{incident} P" in chart for incident in whole)
    assert len(whole) < CLOSED
    whole.clear()
    shown.clear()  # the same folder: nothing changed, no incident page rendered
    with monkeypatch.context() as patch:  # a full build (through the memo)
        patch.setattr(rebuild, "rebuild", lambda *args: None)
        assert run_cli(*args, "--out", str(tmp_path / "two")).exit_code == 0
    assert shown == [] and whole and all(f">{incident} P" in chart for incident in whole)
    whole.clear()  # a rebuild (render/rebuild.py): no status is read, not even the chart's
    assert run_cli(*args, "--out", str(tmp_path / "two")).exit_code == 0
    assert shown == [] and whole == []


@pytest.mark.parametrize("at", [FIXED_AT, "2026-03-10T09:00:00+01:00"])
def test_what_a_page_shows_of_a_stored_status_is_what_it_shows_of_the_status(
    git_repo: Path, at: str
) -> None:
    """Read from the stored text without making datetimes (`shown_from_json`), or from the
    whole status (`shown_status`): the same, and so is the priority told from it."""
    statuses = _statuses(git_repo, datetime.fromisoformat(at))
    assert any(len(s.history) > 1 for s in statuses) and any(s.ecab for s in statuses)
    for status in statuses:
        shown = shown_from_json(status_json(status))
        assert shown == shown_status(status)
        assert describe_priority(shown) == describe_priority(status)


@given(
    moment=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(ZONES),
    )
)
def test_a_stored_time_to_the_minute_is_its_isoformat_to_the_minute(moment: datetime) -> None:
    """Zones with a key (stored with it) and fixed offsets, with and without microseconds."""
    stored = json.loads(json.dumps(memory_module._put_time(moment)))
    assert memory_module._minutes(stored) == moment.isoformat(timespec="minutes")


def test_a_remembered_status_that_cannot_be_read_stops_the_site_build_clearly(
    run_cli: RunCli, git_repo: Path, tmp_path: Path
) -> None:
    """A row whose digest holds but whose text is not a status (written by something else
    than isg): said plainly, with what to do. (A row whose digest does not hold is left
    out: its incident is evaluated afresh, test_damaged_rows_are_never_taken_for_answers.)"""
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    args = ("site", "build", "--repo", str(git_repo), "--at", FIXED_AT, "--no-history")
    assert run_cli(*args, "--out", str(tmp_path / "one")).exit_code == 0
    packed = zlib.compress(b"[1, 2]")
    digest = hashlib.blake2b(packed, digest_size=16).digest()
    with sqlite3.connect(_store(git_repo)) as db:
        db.execute("UPDATE statuses SET status = ?, digest = ?", (packed, digest))
    result = run_cli(*args, "--out", str(tmp_path / "two"))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "the SLA store (sla.sqlite in .isg/cache) holds a damaged status of INC-" in (
        result.output
    )
    assert "remove the file and run again" in result.output


def test_plain_data_comes_back_with_its_types() -> None:
    from isg.sla.memory import plain_dumps, plain_loads

    value = {
        "by_priority": {1: 3, 2: 0},
        "cells": [{"share_met": 0.9123, "verdict": None, "ok": True}],
        "pair": ("a", [1, (2.5, "b")]),
        "text": 'Zürich \u2014 "quoted"',
        "": [],
    }
    back = plain_loads(plain_dumps(value))
    assert back == value and repr(back) == repr(value)
    for bad in ({True: 1}, {(1, 2): 1}, {"x": object()}, {1.5: "a"}):
        with pytest.raises(TypeError):
            plain_dumps(bad)


def test_all_statuses_gives_the_kept_ones_decoded_once(git_repo: Path) -> None:
    from isg.sla.run import AllStatuses

    registry = load_registry(git_repo, load_schemas(git_repo))
    evaluate_remembered(git_repo, registry, load_schemas(git_repo), now=FIXED_NOW)  # fills
    run = evaluate_remembered(git_repo, registry, load_schemas(git_repo), now=FIXED_NOW, lazy=True)
    assert len(run.statuses) == OPEN and len(run.kept) == CLOSED
    every = AllStatuses(run)
    expected = {s.incident_id: repr(s) for s in _statuses(git_repo)}
    assert len(every) == ALL and sorted(every) == sorted(expected)
    assert {i: repr(every[i]) for i in every} == expected
    some = next(iter(run.kept))
    assert every[some] is every[some] and every.get("INC-1999-NONE1") is None


def test_public_holidays_are_kept_and_a_later_run_does_not_ask_the_package(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing `holidays` takes ~0.4 s: the store keeps what it gave, by its version, and
    a later run counts working time with those, to the same answer."""
    import holidays

    from isg import business_calendar
    from isg.sla import context

    def forget() -> None:  # as a new process would start
        business_calendar._holidays.cache_clear()
        business_calendar._cached_day_segments.cache_clear()
        business_calendar._INDEXES.clear()
        business_calendar._SEEDED.clear()
        business_calendar._WORKED_OUT.clear()
        context._CALENDARS.clear()

    forget()
    first, _ = _document(git_repo, use_cache=True, evidence=False)
    asked: list[str] = []
    real = holidays.country_holidays
    monkeypatch.setattr(
        holidays, "country_holidays", lambda *a, **k: asked.append(a[0]) or real(*a, **k)
    )
    forget()
    again, _ = _document(git_repo, use_cache=True, evidence=False)
    assert again == first and asked == []
    forget()
    plain, _ = _document(git_repo, use_cache=False, evidence=False)
    assert plain == first and asked  # without the store: asked
    with sqlite3.connect(git_repo / CACHE_DIR / STORE_FILE) as db:
        version = db.execute("SELECT DISTINCT version FROM holidays").fetchall()
    assert version == [(f"holidays {holidays.__version__}",)]


def test_many_lines_are_packed_by_threads_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from isg.sla import memory as memory_module

    texts = [f'{{"id": "INC-{n}", "note": "{"x" * (n % 97)}"}}' for n in range(1001)]
    monkeypatch.setattr(memory_module, "PACK_APART_FROM", 10)
    monkeypatch.setattr(memory_module, "workers", lambda: 3)
    packed = memory_module._packed_all(texts)
    assert packed == [memory_module._pack(text) for text in texts]
    assert [memory_module._unpack(item) for item in packed] == texts
    assert memory_module._packed_all([]) == []
