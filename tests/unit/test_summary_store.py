"""The SQLite store against the definition: through a long run of edits, commits, checkouts,
stashes and deletions in a real git repository, a validation that uses (and updates) the
store finds exactly what one that reads every file finds, and reads only what changed."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXED_NOW, REPO_ROOT, edit_file, git
from isg.layout import CACHE_DIR
from isg.summary_store import STORE_FILE
from isg.validation import validate_repository

INCIDENTS = "records/incidents"


def _lines(root: Path, **kw: object) -> list[str]:
    result = validate_repository(root, now=FIXED_NOW, **kw)  # type: ignore[arg-type]
    counts = ",".join(f"{k}={v}" for k, v in sorted(result.records_by_kind.items()))
    return [counts] + [
        f"{f.path}:{f.line}:{f.column}: {f.rule}: {f.message} [{f.hint}]" for f in result.findings
    ]


def _commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


Step = tuple[str, Callable[[Path], None], int | None]


def _steps() -> list[Step]:
    """(what, how, how many files the store may read again; None: any)."""
    first, other = f"{INCIDENTS}/INC-2026-4ADP7.yaml", f"{INCIDENTS}/INC-2026-7WVHX.yaml"
    problem = "records/problems/PRB-2026-G4VRN.yaml"  # named by INC-2026-7WVHX and -H2QM4
    future = (FIXED_NOW + timedelta(days=3)).isoformat()
    return [
        ("nothing changed", lambda r: None, 0),
        (
            "an unknown reference, unstaged",
            lambda r: edit_file(r, first, "reporting_state: ", "reporting_state: XX"),
            1,
        ),
        ("the same, staged", lambda r: git(r, "add", "-A"), 1),
        ("the same, committed", lambda r: git(r, "commit", "-qm", "bad ref"), 0),
        (
            "an untracked copy: a duplicate ID",
            lambda r: (r / f"{INCIDENTS}/INC-2026-ZZZZZ.yaml").write_bytes(
                (r / other).read_bytes()
            ),
            1,
        ),
        # Two unchanged incidents now point at nothing: found without reading them.
        ("a referenced problem deleted", lambda r: (r / problem).unlink(), 0),
        ("the problem restored", lambda r: git(r, "checkout", "--", problem), 1),
        (
            "an incident renamed (its ID no longer its name)",
            lambda r: (r / other).rename(r / f"{INCIDENTS}/INC-2026-YYYYY.yaml"),
            1,
        ),
        ("all committed", lambda r: _commit(r, "renamed"), 0),
        ("two commits back (the store is ahead)", lambda r: git(r, "checkout", "-q", "HEAD~2"), 3),
        ("main again", lambda r: git(r, "checkout", "-q", "main"), 3),
        ("unparseable YAML", lambda r: (r / first).write_text("id: [\n"), 1),
        ("stashed", lambda r: git(r, "stash", "-q"), 1),
        ("popped", lambda r: git(r, "stash", "pop", "-q"), 1),
        ("restored", lambda r: git(r, "checkout", "--", first), 1),
        (
            "a time after now",
            lambda r: edit_file(r, first, "reported_at: ", f"reported_at: {future}  # "),
            1,
        ),
        ("undone", lambda r: git(r, "checkout", "--", first), 1),
        (
            "an RfC's patch deleted",
            lambda r: (r / "records/rfcs/RFC-2026-DQ42X.patch").unlink(),
            0,
        ),
        (
            "a link among the records",
            lambda r: (r / f"{INCIDENTS}/LINK.yaml").symlink_to(r / first),
            1,
        ),
        ("the link gone", lambda r: (r / f"{INCIDENTS}/LINK.yaml").unlink(), 0),
        ("a folder where a record was", _folder_for_a_file, 1),
        ("all committed again", lambda r: _commit(r, "more"), 0),
        ("reset to the first commit", lambda r: git(r, "reset", "-q", "--hard", "HEAD~3"), None),
    ]


def _folder_for_a_file(root: Path) -> None:
    target = root / f"{INCIDENTS}/INC-2026-H2QM4.yaml"
    target.unlink()
    target.mkdir()
    (target / "inner.yaml").write_text("id: x\n")


def test_the_store_finds_what_reading_everything_finds_through_a_history(
    git_repo: Path, counted: list[str]
) -> None:
    (git_repo / ".gitignore").write_text(".isg/\n")
    _commit(git_repo, "ignore the cache")
    assert _lines(git_repo) == _lines(git_repo, use_cache=False)
    seen_findings = set()
    for what, change, reads in _steps():
        change(git_repo)
        counted.clear()
        cached = _lines(git_repo)
        read_again = list(counted)
        cold = _lines(git_repo, use_cache=False)
        assert cached == cold, what
        if reads is not None:
            assert len(read_again) <= reads, (what, read_again)
        with_base = _lines(git_repo, base_ref="HEAD~1") if what != "nothing changed" else []
        if with_base:
            assert with_base == _lines(git_repo, base_ref="HEAD~1", use_cache=False), what
        seen_findings.update(line.split(": ")[1] for line in cold[1:])
    # The history really did exercise the rules across records.
    assert {"reference", "id", "yaml", "time", "rfc", "file"} <= seen_findings


def test_a_store_made_outside_git_is_right_inside_it(registry: Path, counted: list[str]) -> None:
    """Outside git the store compares by stat; a repository made later starts from that."""
    for path in (registry / "records").rglob("*"):
        os.utime(path, (1e9, 1e9))
    assert _lines(registry) == _lines(registry, use_cache=False)
    git(registry, "init", "-q", "-b", "main")
    edit_file(
        registry, f"{INCIDENTS}/INC-2026-4ADP7.yaml", "reporting_state: ", "reporting_state: XX"
    )
    counted.clear()
    assert _lines(registry) == _lines(registry, use_cache=False)
    _commit(registry, "first")
    assert _lines(registry) == _lines(registry, use_cache=False)


def test_the_store_holds_one_row_per_file(git_repo: Path) -> None:
    _lines(git_repo)
    files = sorted(
        p.relative_to(git_repo).as_posix() for p in (git_repo / "records").rglob("*") if p.is_file()
    )
    with sqlite3.connect(git_repo / CACHE_DIR / STORE_FILE) as db:
        rows = [p for (p,) in db.execute("SELECT path FROM files ORDER BY path")]
        unresolved = db.execute("SELECT count(*) FROM refs WHERE NOT resolved").fetchone()[0]
    assert rows == files
    assert unresolved == 0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_rules_read_only_the_kept_fields_of_an_rfc(data: st.DataObject) -> None:
    """The store keeps some fields of each RfC (integrity.KEPT_FIELDS); the rules find the
    same on those as on the whole record, also when any other field is changed."""
    from isg.integrity import KEPT_FIELDS, check_releases, check_rfcs
    from isg.model import Record
    from isg.records import Registry, parse_registry, read_record_files
    from isg.safe_yaml import Document

    whole = parse_registry(read_record_files(REPO_ROOT))
    records = []
    for record in whole.records:
        if record.kind.name == "rfc":
            changed = dict(record.data)
            key = data.draw(st.sampled_from(sorted(changed)))
            changed[key] = data.draw(
                st.one_of(st.none(), st.just("local"), st.just("FR"), st.text(max_size=8))
            )
            record = Record(record.kind, record.path, Document(changed, locate=_at(record)))
        records.append(record)
    full = Registry(records=records, attachments=whole.attachments)
    kept = Registry(
        records=[
            Record(
                r.kind,
                r.path,
                Document(
                    {k: v for k, v in r.data.items() if k in KEPT_FIELDS["rfc"]},
                    locate=_at(r),
                ),
            )
            if r.kind.name == "rfc"
            else r
            for r in records
        ],
        attachments=whole.attachments,
    )
    for rule in (check_rfcs, check_releases):
        assert sorted(rule(full, None, FIXED_NOW)) == sorted(rule(kept, None, FIXED_NOW))  # type: ignore[arg-type]


def _at(record: object) -> Callable[[], object]:
    return lambda: record.document  # type: ignore[attr-defined]


def test_summarizing_valid_records_makes_no_reference_cycles() -> None:
    """Validation summarizes with the cyclic collector paused (forks.collector_paused):
    what a valid record's summary leaves must be freed by reference counting alone. (A
    closure that called itself once kept every record's fields until the collector ran.)"""
    import gc

    from isg.records import read_one
    from isg.schemas import load_schemas
    from isg.summaries import summarize_file

    root = REPO_ROOT
    paths = sorted(p.relative_to(root).as_posix() for p in (root / "records").glob("*/*.yaml"))
    schemas = load_schemas(root)
    summaries = [summarize_file(p, read_one(root, p), schemas, frozenset()) for p in paths]
    assert len(summaries) > 50 and all(s.valid and not s.findings for s in summaries)
    gc.collect()
    gc.disable()
    try:
        for path in paths:
            summarize_file(path, read_one(root, path), schemas, frozenset()).as_json()
        assert gc.collect() == 0
    finally:
        gc.enable()
