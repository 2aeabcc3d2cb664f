"""`isg validate`: schema, integrity, governance and lifecycle checks over the registry.

The recipe: read every file (a file that cannot be parsed becomes a finding, never hiding
the others), check each record against its kind's schema, then the rules across records,
then -- with a base revision -- the status changes. Everything is collected, then sorted.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from isg.errors import IsgError
from isg.forks import collector_paused
from isg.git_history import (
    WorkTree,
    base_commit,
    blob_sizes,
    read_blobs,
    record_blobs_at,
    work_tree,
)
from isg.governance import GOVERNANCE_RULES
from isg.integrity import REGISTRY_RULES, member_emails
from isg.layout import CACHE_DIR, RECORDS_DIR
from isg.lifecycle import check_lifecycle
from isg.model import Finding
from isg.record_cache import cache_salt, current_files
from isg.records import Registry, parse_registry, read_one, read_record
from isg.schemas import SchemaSet, load_schemas
from isg.summaries import (
    ATTACHMENT,
    UNREADABLE,
    RecordSummary,
    Summaries,
    SummaryIndex,
    blob_id,
    emails_key,
    summarize_paths,
    summarize_record,
)
from isg.summary_store import STORE_FILE, SummaryStore, refresh, store_row

T = TypeVar("T")


@dataclass
class ValidationResult:
    """Findings collected over a registry, and what was checked."""

    findings: list[Finding] = field(default_factory=list)
    records_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.findings

    def record_findings(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def only_paths(self, paths: Sequence[str]) -> None:
        """Keep the findings in `paths` (files, or folders given with or without a slash)."""
        prefixes = [p.rstrip("/") for p in paths]
        self.findings = [
            f
            for f in self.findings
            if any(f.path == p or f.path.startswith(p + "/") for p in prefixes)
        ]


def check_registry(
    head: Registry, schemas: SchemaSet, *, now: datetime, base: Registry | None = None
) -> ValidationResult:
    """Every finding about `head` (and its changes since `base`) at time `now`."""
    allowed = frozenset(member_emails(head))
    summaries = [summarize_record(record, schemas, allowed) for record in head.records]
    summaries += [RecordSummary(path, ATTACHMENT, valid=True) for path in head.attachments]
    summaries += [RecordSummary(f.path, UNREADABLE) for f in head.load_findings]
    by_path = head.by_path()
    result = check_summaries(
        Summaries(summaries, schemas, by_path.get), now=now, load_findings=head.load_findings
    )
    if base is not None:
        result.record_findings(check_lifecycle(base, head))
        result.findings = sorted(set(result.findings))
    return result


def check_summaries(
    summaries: SummaryIndex,
    *,
    now: datetime,
    load_findings: Iterable[Finding] = (),
    registry: Registry | None = None,
) -> ValidationResult:
    """The findings of every summary, then of the rules across records (over `registry`,
    the records of the data kinds, when the caller has already built it)."""
    result = ValidationResult()
    result.records_by_kind.update(summaries.count_by_kind())
    result.record_findings(load_findings)
    result.record_findings(summaries.file_findings())
    registry = registry if registry is not None else summaries.registry()
    for rule in (*REGISTRY_RULES, *GOVERNANCE_RULES):
        result.record_findings(rule(registry, summaries, now))
    result.findings = sorted(_without_placeholder_echoes(set(result.findings)))
    return result


def _without_placeholder_echoes(findings: set[Finding]) -> set[Finding]:
    """An unfilled placeholder also fails its enum, pattern or reference; say it once."""
    placeholders = {(f.path, f.json_path) for f in findings if f.rule == "placeholder"}
    return {
        f for f in findings if f.rule == "placeholder" or (f.path, f.json_path) not in placeholders
    }


def check_codeowners(root: Path, registry: Registry, *, now: datetime) -> list[Finding]:
    """In a full repository (one with .github/), CODEOWNERS must match the records."""
    if not (root / ".github").is_dir() or not registry.of_kind("governance"):
        return []
    from isg.codeowners import CODEOWNERS_PATH, render_codeowners  # 50 ms: only when needed

    path = root / CODEOWNERS_PATH
    try:
        expected = render_codeowners(registry, at=now)
    except IsgError:
        return []  # the governance record's own findings say why
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current == expected:
        return []
    return [
        Finding(
            path=CODEOWNERS_PATH,
            line=1,
            column=1,
            rule="codeowners",
            message="missing" if current is None else "out of date with the records",
            hint="run isg codeowners",
        )
    ]


def validate_repository(
    root: Path,
    *,
    now: datetime,
    base_ref: str | None = None,
    paths: Sequence[str] = (),
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """Read the registry at `root` (and, with `base_ref`, what changed since then) and check it.

    With the cache (summary_store.py), only the files that changed since the last run are
    read and summarised, and the rules across records ask the store; without it, every file
    is summarised (in parallel when there are many) and the rules run over the summaries in
    memory. The findings are the same either way (tests hold the two together). With
    `base_ref`, only the files that differ from the base are read at the base, for the
    lifecycle rules. `progress(done, total)` is told as files are summarised.
    """
    schemas = load_schemas(root)
    allowed = frozenset(_member_addresses(root))
    done = [0]

    def summarize(todo: list[str], encode: Callable[[RecordSummary], T]) -> list[T]:
        def step(count: int) -> None:
            done[0] += count
            if progress:
                progress(done[0], len(todo))

        return summarize_paths(str(root), todo, schemas, allowed, encode, progress=step)

    read = partial(read_record, root)
    base = base_commit(root, base_ref) if base_ref else None  # an unknown revision stops here
    salt = cache_salt(root) if use_cache else ""
    for _ in range(2 if use_cache else 0):
        store = SummaryStore.open(root, salt)
        if store is None:
            break
        with store:
            try:
                encode = partial(summarize, encode=store_row)
                state = refresh(store, root, encode, emails_key(allowed), base)
                index: SummaryIndex = store.view(schemas, read)
                return _finish(root, index, now=now, base=base, state=state, paths=paths)
            except sqlite3.DatabaseError:
                done[0] = 0  # a damaged (or read-only) cache: dropped, made again from the files
        try:
            (root / CACHE_DIR / STORE_FILE).unlink(missing_ok=True)
        except OSError:
            break
    listing = current_files(root)
    rows = summarize(list(listing), RecordSummary.as_json)
    with collector_paused():  # 57,000 summaries that live on, no cycles (forks.py)
        found = {row[0]: RecordSummary.from_json(row) for row in rows}
        index = Summaries([found[rel] for rel in listing], schemas, read)
    state = work_tree(root, None, base) if base else None
    return _finish(root, index, now=now, base=base, state=state, paths=paths)


def _finish(
    root: Path,
    index: SummaryIndex,
    *,
    now: datetime,
    base: str | None,
    state: WorkTree | None,
    paths: Sequence[str],
) -> ValidationResult:
    """The rules across records over `index`, CODEOWNERS, and the lifecycle since the commit
    `base` (the paths changed since then as `state` says)."""
    registry = index.registry()
    result = check_summaries(index, now=now, registry=registry)
    result.record_findings(check_codeowners(root, registry, now=now))
    if base:
        if state is not None and state.at_base is not None:
            changed = set(state.changed_since_base())
            base_blobs = blob_sizes(root, state.base_sides())
        else:  # no records/ at the base (or git could not compare): every file
            base_blobs = record_blobs_at(root, base)
            changed = set(current_files(root)) | set(base_blobs)
        result.record_findings(_lifecycle_since(root, base_blobs, changed))
        result.findings = sorted(set(result.findings))
    if paths:
        result.only_paths(paths)
    return result


def _member_addresses(root: Path) -> set[str]:
    """The members' own addresses, which records may mention (read before anything else)."""
    folder = root / MEMBERS
    if not folder.is_dir():
        return set()
    members = {
        f"{MEMBERS}{entry.name}": read_one(root, f"{MEMBERS}{entry.name}")
        for entry in sorted(os.scandir(folder), key=lambda e: e.name)
        if not entry.is_dir(follow_symlinks=False)
    }
    return member_emails(parse_registry(members))


MEMBERS = f"{RECORDS_DIR}/members/"


def _lifecycle_since(
    root: Path, base_blobs: dict[str, tuple[str, int, str]], changed: Collection[str]
) -> list[Finding]:
    """Lifecycle findings for the files whose content differs from the base, given the
    base's blobs of (at least) the `changed` paths that were there."""
    now_files = {
        rel: read_one(root, rel)
        for rel in changed
        if os.path.lexists(root / rel) and not os.path.isdir(root / rel)
    }
    same = {
        rel
        for rel, raw in now_files.items()
        if rel in base_blobs and base_blobs[rel][2] == blob_id(raw)
    }
    before = parse_registry(
        read_blobs(root, {r: b for r, b in base_blobs.items() if r not in same})
    )
    head = parse_registry({r: raw for r, raw in now_files.items() if r not in same})
    return list(check_lifecycle(before, head))
