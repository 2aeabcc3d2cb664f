"""Validation's memory between runs: every file's summary in `.isg/cache/summaries.sqlite`.

A summary (summaries.py) is a function of a file's path and bytes, the schemas, the members'
addresses and isg's own code. The store keeps one row per file under `records/` -- its git
blob id, the facts the rules across records need (kind, ID, references, latest time) in
indexed columns, and the whole summary as JSON -- under a salt made of the schemas and isg's
code (cache_salt): another salt and the store starts afresh.

What makes a warm run cost the same at 1,000 and at 50,000 files:

* **Finding what changed without listing every file.** The store remembers the tree id of
  `records/` at HEAD when it was last brought up to date, and the paths that differed from
  HEAD then (`dirty`). A path whose content may differ now is in `git diff-tree` between that
  tree and today's, or was dirty then, or is dirty now (`git diff-index HEAD`, untracked
  files). Only those are read; each is compared with its row by blob id. (Proof: a path in
  none of the three equals the old HEAD's, which equals the new HEAD's, which equals the work
  tree's.) Outside git, or when the old tree is gone, every file is listed and compared by
  git blob or stat (`record_cache.current_files`).
* **Asking instead of loading.** The rules across records (integrity.REGISTRY_RULES) ask the
  `SummaryIndex` questions -- duplicate IDs, references to no record of the kind they name,
  times after now -- which SQLite answers from its indexes in C; only the rows that answer
  are decoded.

The file is a cache, never trusted further: a cache that git tracks (which a pull request
could plant) is not used, a database SQLite cannot read is replaced, and everything in it is
data (JSON), never code. Writes happen in one transaction, so an interrupted run leaves the
old state or the new one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from isg.git_history import OBJECT_ID, WorkTree, work_tree
from isg.integrity import KEPT_FIELDS
from isg.model import Finding, Record
from isg.record_cache import (
    RACY_NS,
    connect_database,
    current_files,
    in_chunks,
    open_database,
)
from isg.records import file_stem, read_one
from isg.schemas import SchemaSet
from isg.summaries import (
    ATTACHMENT,
    UNREADABLE,
    RecordSummary,
    Reference,
    SummaryIndex,
    blob_id,
)

STORE_FILE = "summaries.sqlite"
LEGACY_FILES = ("summaries.json",)  # what earlier versions kept; removed when seen
FORMAT = "4"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
RESOLVE_ALL_FROM = 5000  # changed files from which every reference is looked at again

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    blob TEXT NOT NULL,
    stat TEXT,               -- [size, mtime_ns, inode] when known by stat (outside git)
    kind TEXT NOT NULL,      -- a record kind, 'attachment' or '' (unreadable)
    id TEXT NOT NULL,
    misnamed INTEGER NOT NULL,
    latest INTEGER,          -- the latest time in the record, microseconds since 1970 (UTC)
    has_findings INTEGER NOT NULL,
    has_data INTEGER NOT NULL,
    mentions INTEGER NOT NULL,  -- free text with an @ (depends on the members' addresses)
    emails TEXT NOT NULL,
    summary TEXT NOT NULL,   -- RecordSummary.as_json
    data TEXT                -- DATA_KINDS: [data, first line] (read on every run: kept apart)
);
-- kind: the first kind the reference allows; kinds: all of them, as ',incident,problem,'
-- resolved: whether a record of one of those kinds has the ID `value` (kept up to date by
-- `refresh` for the references whose file or target changed)
CREATE TABLE refs (
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    kinds TEXT NOT NULL,
    value TEXT NOT NULL,
    resolved INTEGER NOT NULL DEFAULT 0
);
"""
# Made after the first rows are in (a fresh store fills faster without them).
_INDEXES = (
    "CREATE INDEX files_by_id ON files (kind, id)",
    "CREATE INDEX files_by_value ON files (id)",
    "CREATE INDEX files_by_latest ON files (latest) WHERE latest IS NOT NULL",
    "CREATE INDEX files_with_findings ON files (path) WHERE has_findings",
    "CREATE INDEX files_with_data ON files (path) WHERE has_data",
    "CREATE INDEX files_misnamed ON files (path) WHERE misnamed",
    "CREATE INDEX files_mentioning ON files (path) WHERE mentions",
    "CREATE INDEX refs_by_path ON refs (path)",
    "CREATE INDEX refs_by_value ON refs (value)",
    "CREATE INDEX refs_unresolved ON refs (path) WHERE NOT resolved",
)


def microseconds(when: datetime) -> int:
    return (when - EPOCH) // MICROSECOND


class SummaryStore:
    """The rows of `.isg/cache/summaries.sqlite` (or of a database in memory)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, salt: str) -> SummaryStore | None:
        """The store under `root` for `salt`, emptied if it was made for another; None when
        the cache must not be used (git tracks it) or cannot be (read-only folder...)."""
        db = open_database(root, STORE_FILE, _SCHEMA, f"{FORMAT} {salt}", legacy=LEGACY_FILES)
        return cls(db) if db is not None else None

    @classmethod
    def in_memory(cls, salt: str = "") -> SummaryStore:
        return cls(connect_database(":memory:", _SCHEMA, f"{FORMAT} {salt}"))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SummaryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ---------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no table yet
            return None
        return row[0] if row else None

    def set_meta(self, **values: str | None) -> None:
        for key, value in values.items():
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- rows ---------------------------------------------------------------------------------

    def blobs(self, paths: Iterable[str] | None = None) -> dict[str, tuple[str, str | None]]:
        """(blob, stat JSON) by path: of `paths`, or of every row."""
        if paths is None:
            return {p: (b, s) for p, b, s in self.db.execute("SELECT path, blob, stat FROM files")}
        found: dict[str, tuple[str, str | None]] = {}
        for chunk, marks in in_chunks(list(paths)):
            query = f"SELECT path, blob, stat FROM files WHERE path IN ({marks})"
            found.update({p: (b, s) for p, b, s in self.db.execute(query, chunk)})
        return found

    def unreadable_paths(self) -> list[str]:
        return [p for (p,) in self.db.execute("SELECT path FROM files WHERE kind = ''")]

    def stale_email_paths(self, key: str) -> list[str]:
        """Files whose privacy findings assumed other members' addresses."""
        query = "SELECT path FROM files WHERE mentions AND emails != ?"
        return [p for (p,) in self.db.execute(query, (key,))]

    def put(self, rows: Iterable[StoreRow], stats: dict[str, list[int] | None]) -> None:
        """Insert the rows `store_row` made (replacing nothing: delete first), with the stat
        of the files known by stat."""
        files, refs = [], []
        for values, references in rows:
            stat = stats.get(values[0])
            if stat is not None:
                values = (values[0], values[1], json.dumps(stat), *values[3:])
            files.append(values)
            refs.extend(references)
        self.db.executemany(f"INSERT INTO files VALUES ({','.join('?' * 13)})", files)
        self.db.executemany("INSERT INTO refs (path, kind, kinds, value) VALUES (?, ?, ?, ?)", refs)

    def delete(self, paths: Sequence[str]) -> None:
        if not self.db.execute("SELECT 1 FROM files LIMIT 1").fetchone():
            return  # a new store: nothing to delete
        for chunk, marks in in_chunks(paths):
            self.db.execute(f"DELETE FROM files WHERE path IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM refs WHERE path IN ({marks})", chunk)

    def ids_of(self, paths: Sequence[str]) -> set[str]:
        """The IDs the records at `paths` have."""
        found: set[str] = set()
        for chunk, marks in in_chunks(paths):
            query = f"SELECT id FROM files WHERE path IN ({marks}) AND id != ''"
            found.update(i for (i,) in self.db.execute(query, chunk))
        return found

    def resolve(self, paths: Sequence[str] | None, values: Iterable[str] = ()) -> None:
        """Work out again whether references resolve: those made by the files at `paths` or
        naming one of `values` (all of them when `paths` is None)."""
        exists = (
            "UPDATE refs SET resolved = EXISTS (SELECT 1 FROM files WHERE files.kind = refs.kind"
            " AND files.id = refs.value AND files.id != '') OR EXISTS (SELECT 1 FROM files"
            " WHERE files.id = refs.value AND files.id != ''"
            " AND instr(refs.kinds, ',' || files.kind || ',') > 0)"
        )
        if paths is None:
            self.db.execute(exists)
            return
        for column, keys in (("path", list(paths)), ("value", sorted(set(values)))):
            for chunk, marks in in_chunks(keys):
                self.db.execute(f"{exists} WHERE {column} IN ({marks})", chunk)

    def view(self, schemas: SchemaSet, read: Callable[[str], Record | None]) -> StoredSummaries:
        return StoredSummaries(self.db, schemas, read)


StoreRow = tuple[tuple[Any, ...], list[tuple[str, str, str, str]]]  # files values, refs values


def store_row(summary: RecordSummary) -> StoreRow:
    """What the store keeps of a summary: a row of `files` (its stat left out) and rows of
    `refs`. Made by the processes that summarise, so that the parent only inserts."""
    latest = microseconds(summary.latest) if summary.latest else None
    compact = (",", ":")
    kept = summary.data
    if summary.data is not None and summary.kind in KEPT_FIELDS:
        kept = {k: v for k, v in summary.data.items() if k in KEPT_FIELDS[summary.kind]}
    values = (
        summary.path,
        summary.digest,
        None,
        summary.kind,
        summary.id,
        bool(summary.id) and summary.id != file_stem(summary.path),
        latest,
        bool(summary.findings),
        summary.data is not None,
        summary.mentions_email,
        summary.emails,
        json.dumps(summary.as_json(), separators=compact),
        None
        if summary.data is None
        else json.dumps([kept, summary.first_line], separators=compact),
    )
    refs = [
        (summary.path, allowed[0], f",{','.join(allowed)},", value)
        for _, value, allowed in summary.refs
    ]
    return values, refs


def refresh(
    store: SummaryStore,
    root: Path,
    summarize: Callable[[list[str]], Iterable[StoreRow]],
    emails: str,
    base: str | None = None,
) -> WorkTree | None:
    """Bring the store up to date with the files under `root/records/`: read the paths that
    may have changed (see the module's doc), compare each with its row by blob id, summarise
    the ones that differ (with `summarize`) and drop the rows of files that are gone.
    Returns what git said (with the paths changed since the commit `base`, when given)."""
    tree = store.meta("tree")
    if tree is not None and not OBJECT_ID.fullmatch(tree):
        tree = None
    state = work_tree(root, tree, base)
    stats: dict[str, list[int] | None] = {}
    todo: list[str] = []
    gone: list[str] = []
    dirty_before = _names_in(store.meta("dirty"))
    if state is not None and state.changed is not None and dirty_before is not None:
        # Unreadable files are looked at every time: a permission or a link can change
        # without git seeing it.
        candidates = state.changed | state.dirty | dirty_before
        candidates |= set(store.unreadable_paths())
        known = store.blobs(candidates)
        for rel in sorted(candidates):
            full = root / rel
            if not os.path.lexists(full) or os.path.isdir(full):
                if rel in known:
                    gone.append(rel)
                continue
            if rel not in known or blob_id(read_one(root, rel)) != known[rel][0]:
                todo.append(rel)
    else:
        written_text = store.meta("written_ns") or "0"
        written = int(written_text) if written_text.isdigit() else 0
        known = store.blobs()
        listing = current_files(root)
        gone = [rel for rel in known if rel not in listing]
        for rel, (stat, blob) in listing.items():
            stats[rel] = stat.key() if stat else None
            row = known.get(rel)
            if row is None:
                todo.append(rel)
            elif blob is not None:  # git vouches for the file's content
                if row[0] != blob:
                    todo.append(rel)
            elif (
                stat is not None
                and row[1] == json.dumps(stat.key())
                and stat.mtime_ns < written - RACY_NS  # not written just before the row
            ):
                continue
            elif stat is None or blob_id(read_one(root, rel)) != row[0]:
                todo.append(rel)
    pending = set(todo)
    todo += [rel for rel in store.stale_email_paths(emails) if rel not in pending]
    rows = summarize(todo)  # before taking the write lock: this is the long part
    store.db.execute("BEGIN IMMEDIATE")
    try:
        everything = len(todo) + len(gone) > RESOLVE_ALL_FROM
        touched = set() if everything else store.ids_of(todo + gone)  # IDs that may go away
        store.delete(todo + gone)
        store.put(rows, stats)
        if store.meta("indexed") != FORMAT:
            for statement in _INDEXES:
                store.db.execute(statement)
            store.set_meta(indexed=FORMAT)
        if everything:
            store.resolve(None)
        elif todo or gone:
            store.resolve(todo, touched | store.ids_of(todo))
        store.set_meta(
            tree=state.tree if state is not None else None,
            dirty=json.dumps(sorted(state.dirty)) if state is not None else None,
            written_ns=str(time.time_ns()),
        )
        store.db.execute("COMMIT")
    except BaseException:
        store.db.execute("ROLLBACK")
        raise
    return state


def _names_in(text: str | None) -> set[str] | None:
    """The paths a meta value lists (None if it is not a JSON list of strings)."""
    try:
        names = json.loads(text or "[]")
    except ValueError:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return set(names)


class StoredSummaries(SummaryIndex):
    """The `SummaryIndex` over a store: SQLite answers, only the answers are decoded."""

    def __init__(
        self, db: sqlite3.Connection, schemas: SchemaSet, read: Callable[[str], Record | None]
    ) -> None:
        self.db, self.schemas, self.read = db, schemas, read

    def _summaries(self, query: str, args: Sequence[Any] = ()) -> Iterator[RecordSummary]:
        for (text,) in self.db.execute(query, args).fetchall():
            try:
                yield RecordSummary.from_json(json.loads(text))
            except (ValueError, TypeError) as exc:  # edited by hand?
                raise sqlite3.DatabaseError(f"a damaged row in the cache: {exc}") from exc

    def misnamed(self) -> Iterator[RecordSummary]:
        return self._summaries("SELECT summary FROM files WHERE misnamed")

    def duplicated(self) -> Iterator[RecordSummary]:
        return self._summaries(
            "SELECT summary FROM files WHERE id != '' AND (kind, id) IN "
            "(SELECT kind, id FROM files WHERE id != '' GROUP BY kind, id HAVING count(*) > 1)"
        )

    def unresolved(self) -> Iterator[tuple[RecordSummary, Reference]]:
        # `refresh` keeps `resolved` up to date; the rows are checked again here all the same.
        query = "SELECT DISTINCT path FROM refs WHERE NOT resolved"
        paths = [p for (p,) in self.db.execute(query).fetchall()]
        for path in sorted(paths):
            for summary in self._summaries("SELECT summary FROM files WHERE path = ?", (path,)):
                for ref in summary.refs:
                    if not any(self.has_id(kind, ref[1]) for kind in ref[2]):
                        yield summary, ref

    def has_id(self, kind: str, value: str) -> bool:
        query = "SELECT 1 FROM files WHERE kind = ? AND id = ? AND id != '' LIMIT 1"
        return self.db.execute(query, (kind, value)).fetchone() is not None

    def is_unreadable(self, path: str) -> bool:
        query = "SELECT 1 FROM files WHERE path = ? AND kind = ''"
        return self.db.execute(query, (path,)).fetchone() is not None

    def later_than(self, now: datetime) -> Iterator[RecordSummary]:
        query = "SELECT summary FROM files WHERE latest > ?"
        return (s for s in self._summaries(query, (microseconds(now),)) if s.kind)

    def file_findings(self) -> Iterator[Finding]:
        for summary in self._summaries("SELECT summary FROM files WHERE has_findings"):
            yield from summary.findings

    def count_by_kind(self) -> Counter[str]:
        query = "SELECT kind, count(*) FROM files WHERE kind NOT IN (?, ?) GROUP BY kind"
        return Counter(dict(self.db.execute(query, (UNREADABLE, ATTACHMENT)).fetchall()))

    def data_summaries(self) -> Iterator[RecordSummary]:
        query = "SELECT path, kind, data FROM files WHERE has_data ORDER BY path"
        for path, kind, text in self.db.execute(query).fetchall():
            try:
                data, first_line = json.loads(text)
            except (ValueError, TypeError) as exc:
                raise sqlite3.DatabaseError(f"a damaged row in the cache: {exc}") from exc
            yield RecordSummary(path, kind, data=data, first_line=first_line)

    def attachment_paths(self) -> set[str]:
        query = "SELECT path FROM files WHERE kind = ?"
        return {p for (p,) in self.db.execute(query, (ATTACHMENT,))}
