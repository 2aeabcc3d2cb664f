"""What the last site build wrote, so a rebuild renders only the pages whose inputs changed.

A page's bytes follow from the templates, isg's code and what the page is given: its path,
template, title and context, whether it shows the build's time (and then that time) and
whether the build is the members'. The memo (`.isg/cache/site.sqlite`, one per registry)
keeps, for each output folder and page, a digest of what the page was given and the size and
modification time of the file written. A later build that gives a page the same and finds
the file as it left it neither renders nor reads that page. The templates, isg's code and the
versions of Python and of the libraries that render (Jinja2, MarkupSafe, markdown-it-py,
nh3) are the store's version: when any changes, it starts empty.

The digest is of `repr` of the page's inputs (`Page.stand_ins` give some by a digest: a
remembered SLA status by that of its stored form, an incident's data by its file's blob,
from which it follows with the schemas and isg's code, both in `cache_salt`, part of the
version below): records as loaded from YAML (dicts, lists,
strings, numbers, dates), statuses (dataclasses of those), Markup. A value whose repr is not
its content (an object shown by its address) makes the page be rendered every time, never
skipped on a coincidence.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from isg.layout import CACHE_DIR
from isg.record_cache import cache_salt, in_chunks, open_database, package_versions
from isg.render.pages import Page
from isg.render.site_look import STORE, as_left

STORE_FILE = PurePosixPath(STORE).name  # in CACHE_DIR (site_look names the store)
FORMAT = "5"
# `rebuilds`: what the last build into a folder leaves for a rebuild that reads only what
# changed (render/rebuild.py): its inputs and files; `rebuild_incidents`, what the pages
# about many incidents read of each, a row an incident with what it is listed under (its
# year, whether it is open, the CIs it names, each between newlines), so that a rebuild
# reads only the rows of the lists it makes again (one JSON document of all 50,000 took
# ~0.25 s to decode); `rebuild_records`, what the last full build kept of the records
# besides incidents, apart from `rebuilds` because no rebuild changes it (~2 MB of JSON at
# 50,000 incidents: a rebuild read it, and encoded and wrote it again, with its small
# state; `rebuilds` names it by its digest). Valid only beside a `rebuilds` row (a build
# forgets that small row before it writes).
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pages (
    folder TEXT NOT NULL,
    path TEXT NOT NULL,
    key BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    PRIMARY KEY (folder, path)
) WITHOUT ROWID;
CREATE TABLE rebuilds (folder TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE rebuild_records (folder TEXT PRIMARY KEY, kept TEXT NOT NULL);
CREATE TABLE rebuild_incidents (
    folder TEXT NOT NULL,
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    id TEXT NOT NULL,
    year INTEGER,
    open INTEGER NOT NULL,
    cis TEXT NOT NULL,
    kept TEXT NOT NULL,
    PRIMARY KEY (folder, path)
);
CREATE INDEX rebuild_incidents_open ON rebuild_incidents (folder, open);
CREATE INDEX rebuild_incidents_year ON rebuild_incidents (folder, year);
CREATE INDEX rebuild_incidents_id ON rebuild_incidents (folder, id);
"""
# An incident as kept for a rebuild: its path, blob, ID, year (None: not shown), whether it
# is open (1, else 0), the CIs it names ("\nA\nB\n"), and what is kept of it as JSON text.
KeptIncident = tuple[str, str, str, int | None, int, str, str]
Row = tuple[bytes, int, int]  # the page's key, and the size and mtime (ns) of its file


def page_key(page: Page, at: datetime, internal: bool) -> bytes | None:
    """The digest of everything a page is rendered from besides templates and code; None
    when some input has no faithful repr (the page is then always rendered)."""
    context = page.context
    if page.stand_ins:
        context = {
            name: ("stand-in", page.stand_ins[name]) if name in page.stand_ins else value
            for name, value in context.items()
        }
    text = repr(
        (
            page.path,
            page.template,
            page.title,
            page.timed,
            at if page.timed else None,
            internal,
            context,
        )
    )
    if " object at 0x" in text:
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def file_row(target: str | Path, key: bytes) -> Row | None:
    """The row to keep for a page just written to `target` (None if it cannot be read)."""
    try:
        found = os.lstat(target)
    except OSError:
        return None
    return key, found.st_size, found.st_mtime_ns


def unchanged(target: str | Path, key: bytes | None, row: Row | None) -> bool:
    """Whether the page whose key is now `key` was written to `target` from the same inputs
    and the file is still as it was left (same size and modification time, not a link)."""
    if key is None or row is None or row[0] != key:
        return False
    return as_left(target, row[1], row[2])


@dataclass
class PageMemo:
    """The rows of one output folder, as the last build left them (read when first asked
    for: a rebuild that reads only what changed asks only for those of its pages,
    `rows_of`, and has a forked process read them all, `read_rows`)."""

    db: sqlite3.Connection | None
    folder: str
    _rows: dict[str, Row] | None = None
    # The folder held nothing: its rows were not read (no page in it can be kept; 57,000
    # rows took ~0.3 s to read) and `keep` replaces them all.
    unread: bool = False
    path: Path | None = None  # of the store

    @property
    def rows(self) -> dict[str, Row]:
        if self._rows is None:
            self._rows = {} if self.db is None else read_rows(self.db, self.folder)
        return self._rows

    def rows_of(self, paths: Iterable[str]) -> dict[str, Row]:
        """The rows of these pages (those that have one)."""
        if self._rows is not None or self.db is None:
            return {path: self.rows[path] for path in paths if path in self.rows}
        return read_rows(self.db, self.folder, paths)

    def keep_rows(self, rows: Mapping[str, Row | None]) -> None:
        """Write these rows (None: remove the page's), leaving the others as they are."""
        if not rows:
            return
        done = self._write(
            ("DELETE FROM pages WHERE folder = ? AND path = ?",
             [(self.folder, path) for path, row in rows.items() if row is None]),
            ("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
             [(self.folder, path, *row) for path, row in rows.items() if row is not None]),
        )  # fmt: skip
        if done and self._rows is not None:
            for path, row in rows.items():
                if row is None:
                    self._rows.pop(path, None)
                else:
                    self._rows[path] = row

    @classmethod
    def open(cls, root: Path, site_dir: Path, out: Path) -> PageMemo:
        """The memo of the folder `out` for the registry at `root` built with the templates in
        `site_dir`; an empty one, kept nowhere, when the cache cannot be used."""
        version = f"{FORMAT} {cache_salt(root)} {_templates_digest(site_dir)} {renderer_versions()}"
        db = open_database(root, STORE_FILE, _SCHEMA, version)
        folder = str(out.resolve())
        memo = cls(db, folder, path=root / CACHE_DIR / STORE_FILE)
        if db is not None and _empty(out):
            memo.unread = True
            memo._rows = {}
        return memo

    def keep(self, rows: Mapping[str, Row]) -> None:
        """Make the folder's rows exactly `rows` (the pages of this build). Only the rows
        that differ from those read are written: rewriting all 57,000 took ~0.5 s of each
        rebuild."""
        if self.db is None:
            return
        gone = [(self.folder, path) for path in self.rows.keys() - rows.keys()]
        new = [
            (self.folder, path, *row)
            for path, row in sorted(rows.items())
            if self.rows.get(path) != row
        ]
        if not gone and not new and not self.unread:
            return
        everything = [(self.folder,)] if self.unread else []
        if self._write(
            ("DELETE FROM pages WHERE folder = ?", everything),
            ("DELETE FROM pages WHERE folder = ? AND path = ?", gone),
            ("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)", new),
        ):
            self._rows, self.unread = dict(rows), False

    def _write(self, *statements: tuple[str, Sequence[tuple[Any, ...]]]) -> bool:
        """Run each statement for each of its rows in one transaction; whether it was
        committed (a store that cannot be written is left as it was)."""
        if self.db is None:
            return False
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for sql, rows in statements:
                self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            return False
        return True

    def rebuild_state(self) -> str | None:
        """What the last build into the folder left for a rebuild (`keep_rebuild_state`),
        None if nothing (or it cannot be read)."""
        if self.db is None or self.unread:
            return None
        try:
            found = self.db.execute(
                "SELECT state FROM rebuilds WHERE folder = ?", (self.folder,)
            ).fetchone()
        except sqlite3.Error:
            return None
        return found[0] if found is not None and isinstance(found[0], str) else None

    def rebuild_records(self) -> str | None:
        """What the last full build into the folder kept of the records besides incidents
        (`keep_rebuild_state`'s `records`), None if nothing (or it cannot be read)."""
        found = self._kept("SELECT kept FROM rebuild_records WHERE folder = ?", ())
        return found[0][0] if found and isinstance(found[0][0], str) else None

    def kept_blobs(self) -> list[tuple[str, str]] | None:
        """The path and blob of each incident kept for a rebuild, None if unreadable."""
        return self._kept("SELECT path, blob FROM rebuild_incidents WHERE folder = ?", ())

    def kept_of(self, paths: Iterable[str]) -> list[str] | None:
        """What is kept of the incidents at `paths` (those there are), in path order."""
        wanted = sorted(paths)
        found: list[str] = []
        for chunk, marks in in_chunks(wanted):
            rows = self._kept(
                "SELECT kept FROM rebuild_incidents WHERE folder = ?"
                f" AND path IN ({marks}) ORDER BY path",
                tuple(chunk),
            )
            if rows is None:
                return None
            found += [text for (text,) in rows]
        return found

    def kept_listed(
        self, years: Iterable[int], cis: Iterable[str], ids: Iterable[str]
    ) -> list[str] | None:
        """What is kept of every incident that is open, reported in one of `years`, names
        one of `cis` or is one of `ids`, in path order (what a rebuild's pages show).

        A query a kind of row, each through its own index but the CIs' (one query of all
        the kinds ORed together scanned every incident of the folder, ~0.02 s at 50,000
        incidents, where a patched rebuild reads only ~500 open ones through the index)."""
        years, cis, ids = sorted(set(years)), sorted(set(cis)), sorted(set(ids))
        asked: list[tuple[str, Sequence[Any]]] = [("open = 1", ())]
        asked += [(f"year IN ({','.join('?' * len(years))})", years)] if years else []
        asked += [(f"id IN ({marks})", chunk) for chunk, marks in in_chunks(ids)]
        if cis:
            asked.append(
                (" OR ".join(["instr(cis, ?) > 0"] * len(cis)), [f"\n{ci}\n" for ci in cis])
            )
        found: dict[str, str] = {}
        for where, arguments in asked:
            rows = self._kept(
                f"SELECT path, kept FROM rebuild_incidents WHERE folder = ? AND ({where})",
                tuple(arguments),
            )
            if rows is None:
                return None
            found.update(rows)
        return [found[path] for path in sorted(found)]

    def _kept(self, query: str, arguments: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
        if self.db is None:
            return None
        try:
            return self.db.execute(query, (self.folder, *arguments)).fetchall()
        except sqlite3.Error:
            return None

    def forget_rebuild_state(self) -> None:
        """Before a build writes anything: a build cut short leaves no state behind that
        no longer tells what the folder holds."""
        self._write(("DELETE FROM rebuilds WHERE folder = ?", [(self.folder,)]))

    def keep_rebuild_state(
        self, state: str, incidents: Sequence[KeptIncident], *, every: bool,
        records: str | None = None,
    ) -> None:  # fmt: skip
        """Keep what a rebuild into the folder will need: its state (JSON), the kept
        `incidents`, which are `every` incident (the others are removed) or those changed
        (each replacing its row), and (from a full build) what was kept of the other
        `records` (JSON), else left as it is. Of every incident, only the rows that differ
        from those kept are written: deleting and writing all 50,000 again took ~0.9 s."""
        folder = self.folder
        gone: list[tuple[str, str]] = []
        if every:
            try:
                there = dict(
                    self.db.execute(
                        "SELECT path, kept FROM rebuild_incidents WHERE folder = ?", (folder,)
                    ).fetchall()
                    if self.db is not None
                    else []
                )
            except sqlite3.Error:
                return
            gone = [(folder, path) for path in there.keys() - {row[0] for row in incidents}]
            incidents = [row for row in incidents if there.get(row[0]) != row[-1]]
        self._write(
            ("DELETE FROM rebuild_incidents WHERE folder = ? AND path = ?", gone),
            (
                "INSERT OR REPLACE INTO rebuild_incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(folder, *row) for row in incidents],
            ),
            ("INSERT OR REPLACE INTO rebuilds VALUES (?, ?)", [(folder, state)]),
            (
                "INSERT OR REPLACE INTO rebuild_records VALUES (?, ?)",
                [] if records is None else [(folder, records)],
            ),
        )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def read_rows(
    db: sqlite3.Connection, folder: str, paths: Iterable[str] | None = None
) -> dict[str, Row]:
    """The memo's rows of `folder` (`paths`: of these pages only); none if unreadable."""
    query = "SELECT path, key, size, mtime FROM pages WHERE folder = ?"
    try:
        found = (
            db.execute(query, (folder,)).fetchall()
            if paths is None
            else [
                row
                for path in paths
                for row in db.execute(query + " AND path = ?", (folder, path)).fetchall()
            ]
        )
    except sqlite3.Error:
        return {}
    return {
        path: (bytes(key), size, mtime)
        for path, key, size, mtime in found
        if isinstance(key, bytes) and isinstance(size, int) and isinstance(mtime, int)
    }


def _empty(folder: Path) -> bool:
    """Whether `folder` holds nothing (or is not there)."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return True


RENDERERS = ("jinja2", "markupsafe", "markdown-it-py", "nh3")


def renderer_versions() -> str:
    """Python's version and those of the libraries a page's bytes depend on."""
    return "; ".join([sys.version.split()[0], *package_versions(RENDERERS)])


def _templates_digest(site_dir: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    templates = site_dir / "templates"
    for path in sorted(templates.rglob("*")) if templates.is_dir() else ():
        if path.is_file():
            digest.update(path.relative_to(templates).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
