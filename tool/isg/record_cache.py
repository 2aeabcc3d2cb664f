"""What isg remembers between runs in `.isg/cache/`, and how it tells that a file changed.

Three caches live there: validation's summaries (summary_store.py, SQLite), the SLA
store's history and closed incidents' lines (sla/memory.py, SQLite) and, here, the data of
each record for the commands that read records rather than check them (sla, site, reports:
`load_registry`: `.isg/cache/records.json` for incidents, `records-other.json` for the
rest, so that a site rebuild need not decode the incidents'). All are keyed by `cache_salt`
-- the schemas' and the `isg` package's own bytes -- so editing a schema or upgrading isg
starts afresh, and
none is used when git tracks anything under `.isg/` (a pull request could plant a cache
that hides findings). The SQLite ones open through `open_database`.

Here, a file is known by its git blob where git vouches for it (three git listings in C),
else by its size, modification time and inode; like git's index, an entry written less than
two seconds after its file's modification time is not trusted. The cache is JSON (never
code: `pickle` would run whatever a planted cache file says), read in one piece, written to
a temporary file and renamed, so a run that is interrupted leaves the old cache or the new
one, never half of one. A run that changed a few entries appends them to a journal beside
it instead (`records.json.journal`, a JSON line each, tagged with the write time of the
file it amends; rewriting 57 MB for one changed record took ~1.2 s); past `JOURNAL_LIMIT`
lines the file is written whole again and the journal dropped. A journal line that does not
parse (a run cut short mid-line) or amends another version of the file is ignored.
Anything unreadable is treated as empty. `ISG_NO_CACHE=1` skips it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat as stat_module
import subprocess
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import isg
from isg.git_lists import GitLists, git_lists
from isg.layout import CACHE_DIR, RECORDS_DIR
from isg.model import KIND_BY_DIRECTORY, Record
from isg.records import Registry, parse_registry, read_one, read_record
from isg.safe_yaml import Document
from isg.schemas import SchemaSet
from isg.summaries import RecordSummary, blob_id

DATA_FILE = "records.json"  # the incidents' data
OTHER_FILE = "records-other.json"  # every other record's: a site rebuild reads only these
INCIDENTS = f"{RECORDS_DIR}/incidents/"
FORMAT = 1
RACY_NS = 2_000_000_000
JOURNAL_LIMIT = 2000  # journal lines read back at each start (~20 us each) before a rewrite


@dataclass(frozen=True)
class FileStat:
    """What the file system says about a file, cheaply (no read)."""

    size: int
    mtime_ns: int
    inode: int

    def key(self) -> list[int]:
        return [self.size, self.mtime_ns, self.inode]


def scan_records(root: Path) -> Iterator[tuple[str, FileStat | None]]:
    """Every entry under `root/records/` that is not a directory, with its stat (None for a
    link or anything that is not a regular file: those are reported, never read)."""
    stack = [RECORDS_DIR]
    while stack:
        folder = stack.pop()
        with os.scandir(root / folder) as entries:
            for entry in entries:
                rel = f"{folder}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                elif not entry.is_file(follow_symlinks=False):
                    yield rel, None
                else:
                    st = entry.stat(follow_symlinks=False)
                    yield rel, FileStat(st.st_size, st.st_mtime_ns, st.st_ino)


def git_listing(root: Path, lists: GitLists | None = None) -> dict[str, str | None] | None:
    """Every file under `root/records/` with its git blob id when git vouches that the file
    is unchanged since it was staged (None: read it), or None when `root` is not in a work
    tree (`lists`: `git_lists(root)`, if the caller has it).

    Assumes no content filters on records (they are plain UTF-8 YAML): with filters the blob
    would not be the file's bytes, and the cache would only miss, never mislead, because
    summaries computed from a file carry the id of its bytes.
    """
    lists = lists or git_lists(root)
    if lists is None:
        return None
    listing: dict[str, str | None] = {}
    for entry in lists.staged.split(b"\0"):
        if entry:
            meta, name = entry.split(b"\t", 1)
            mode, blob, stage = meta.split()
            rel = name.decode("utf-8", "surrogateescape")
            listing[rel] = blob.decode() if mode == b"100644" and stage == b"0" else None
    for rel in lists.unstaged:
        listing[rel] = None
    # Staged but deleted (or replaced by a folder) in the work tree: not there any more.
    return {rel: blob for rel, blob in listing.items() if blob is not None or is_there(root, rel)}


def is_there(root: Path, rel: str) -> bool:
    """Whether the work tree has a file (or link) at `rel`, not a folder: what git lists."""
    return os.path.lexists(root / rel) and not os.path.isdir(root / rel)


FileState = tuple[FileStat | None, str | None]  # (stat, git blob id); either may be unknown


def current_files(root: Path, lists: GitLists | None = None) -> dict[str, FileState]:
    """Every file under `root/records/`, sorted, with what tells whether it changed: its git
    blob when git vouches for it, else its stat (None for links and special files).
    `lists`: `git_lists(root)`, if the caller has it."""
    known = git_listing(root, lists)
    if known is None:
        return {rel: (stat, None) for rel, stat in sorted(scan_records(root))}
    files: dict[str, FileState] = {}
    for rel, blob in sorted(known.items()):
        files[rel] = (None if blob is not None else _stat(root / rel), blob)
    return files


def _stat(path: Path) -> FileStat | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    if not stat_module.S_ISREG(st.st_mode):
        return None
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino)


def package_versions(packages: Iterable[str]) -> list[str]:
    """ "name version" of each installed package ("name -" if it is not installed): what a
    store keyed by the libraries its answers depend on adds to its version. Read from the
    names of the installed packages' metadata folders (`name-version.dist-info`), as
    importlib.metadata finds them first along sys.path: importing importlib.metadata and
    parsing each package's METADATA took ~0.03 s of every site rebuild."""
    installed = _installed()
    return [f"{package} {installed.get(_normal(package), '-')}" for package in packages]


def _normal(name: str) -> str:
    """A package's name as its metadata folder spells it, lower case (PEP 503, PEP 427)."""
    return re.sub(r"[-_.]+", "_", name).lower()


@cache
def _installed() -> dict[str, str]:
    """The version of each installed package by `_normal` name (the first found along
    sys.path wins, as for imports), from `name-version.dist-info` and
    `name-version[-pyX.Y].egg-info` folders and files."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # not a folder (a zip), or gone
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            package, _, rest = stem.partition("-")
            version = rest.partition("-")[0]
            if package and version:
                found.setdefault(_normal(package), version)
    return found


def cache_salt(root: Path) -> str:
    """What every summary depends on besides its file: the schemas and isg's own code."""
    digest = hashlib.sha1(f"format {FORMAT}".encode(), usedforsecurity=False)
    for path in sorted((root / "schemas").glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(_code_digest())
    return digest.hexdigest()


@cache
def _code_digest() -> bytes:
    """The digest of isg's own code, read once a process (a site rebuild asked four times
    for the salt of one of its stores: ~5 ms each to read and hash ~80 files)."""
    digest = hashlib.sha1(usedforsecurity=False)
    package = Path(isg.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest()


@dataclass
class RecordCache:
    """Rows by path, valid while the file's blob (or stat) is unchanged."""

    path: Path | None
    salt: str
    entries: dict[str, list[Any]] = field(default_factory=dict)  # path -> [stat, summary]
    written_ns: int = 0
    changed: bool = False  # the file must be written whole
    amended: set[str] = field(default_factory=set)  # paths to append to the journal
    journal_lines: int = 0

    @classmethod
    def open(cls, root: Path, salt: str, name: str = DATA_FILE) -> RecordCache:
        path = root / CACHE_DIR / name
        try:
            stored = json.loads(path.read_bytes())
            if stored.get("salt") == salt and isinstance(stored.get("entries"), dict):
                cache = cls(path, salt, stored["entries"], int(stored.get("written_ns", 0)))
                cache._replay()
                return cache
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        return cls(path, salt, changed=True)

    @property
    def journal(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".journal")

    def _replay(self) -> None:
        """Apply the journal's lines that amend this version of the file."""
        if self.journal is None:
            return
        try:
            lines = self.journal.read_bytes().splitlines()
        except OSError:
            return
        for line in lines:
            if not line.strip():
                continue
            self.journal_lines += 1
            try:
                written, rel, entry = json.loads(line)
            except (ValueError, TypeError):
                continue  # cut short, or not ours
            if written != self.written_ns or not isinstance(rel, str):
                continue
            if entry is None:
                self.entries.pop(rel, None)
            elif isinstance(entry, list):
                self.entries[rel] = entry

    @classmethod
    def disabled(cls) -> RecordCache:
        return cls(None, "")

    def lookup(
        self, rel: str, stat: FileStat | None, blob: str | None = None
    ) -> RecordSummary | None:
        row = self.row(rel, stat, blob)
        try:
            return RecordSummary.from_json(row) if row is not None else None
        except (TypeError, ValueError):
            return None

    def row(self, rel: str, stat: FileStat | None, blob: str | None = None) -> list[Any] | None:
        """What was kept for the file at `rel`, if it is unchanged since: the same git blob
        (the content itself), or else the same stat (and not racily fresh)."""
        entry = self.entries.get(rel)
        if entry is None or not isinstance(entry[1], list):
            return None
        if blob is not None:
            return entry[1] if entry[1][2] == blob else None
        if stat is None or entry[0] != stat.key() or stat.mtime_ns >= self.written_ns - RACY_NS:
            return None
        return entry[1]

    def remember(self, row: list[Any], stat: FileStat | None) -> None:
        """Keep a summary (as `RecordSummary.as_json` wrote it: its third item is the blob id
        of the bytes it was computed from) for a file with `stat` (None: known by blob)."""
        if self.path is None:
            return
        self.entries[row[0]] = [stat.key() if stat else None, row]
        self.amended.add(row[0])

    def forget_missing(self, present: set[str]) -> None:
        gone = [rel for rel in self.entries if rel not in present]
        for rel in gone:
            del self.entries[rel]
        self.amended.update(gone)

    def save(self) -> None:
        """Write what changed: appended to the journal when it is a few entries, else the
        whole file; a cache that cannot be written is skipped."""
        if self.path is None or not (self.changed or self.amended):
            return
        few = self.journal_lines + len(self.amended) <= JOURNAL_LIMIT
        if not self.changed and few and self._append():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_ignore_file(self.path.parent)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as handle:
                for piece in self.encoded(time.time_ns()):
                    handle.write(piece)
            os.replace(tmp, self.path)
            if self.journal is not None:
                self.journal.unlink(missing_ok=True)  # amends the file just replaced
        except OSError:
            return

    def _append(self) -> bool:
        """Append the amended entries to the journal; False if it cannot be written."""
        assert self.journal is not None
        lines = [
            json.dumps([self.written_ns, rel, self.entries.get(rel)], separators=(",", ":"))
            for rel in sorted(self.amended)
        ]
        try:
            with self.journal.open("ab") as handle:
                # A leading newline ends a line a run cut short may have left.
                handle.write(("\n" + "\n".join(lines) + "\n").encode())
        except OSError:
            return False
        return True

    def encoded(self, written_ns: int, batch: int = 2000) -> Iterator[bytes]:
        """`json.dumps({"salt", "written_ns", "entries"}, separators=(",", ":"))` as bytes, a
        batch of entries at a time: whole, the 50,000-record cache was a ~100 MB string and
        its bytes on top of every record's data (the peak of a site rebuild)."""
        head = json.dumps({"salt": self.salt, "written_ns": written_ns}, separators=(",", ":"))
        yield (head[:-1] + ',"entries":{').encode()
        items = list(self.entries.items())
        for start in range(0, len(items), batch):
            part = json.dumps(dict(items[start : start + batch]), separators=(",", ":"))[1:-1]
            yield (("," if start else "") + part).encode()
        yield b"}}"


def cache_is_tracked(root: Path) -> bool:
    """Whether git tracks anything under `.isg/`: a cache a pull request could have planted
    to hide findings, which is therefore never used. Asked of git once while its index is
    the same file (a site rebuild asked five times: ~0.09 s)."""
    try:
        index = os.stat(root / ".git" / "index")  # git writes a new file for each change
        key: tuple[str, int, int, int] | None = (
            str(root.resolve()), index.st_ino, index.st_size, index.st_mtime_ns
        )  # fmt: skip
    except OSError:
        key = None  # not the top of a work tree (or no index yet): asked each time
    if key is not None and key in _TRACKED:
        return _TRACKED[key]
    done = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", ".isg"], capture_output=True, check=False
    )
    tracked = done.returncode == 0 and bool(done.stdout)
    if key is not None:
        _TRACKED[key] = tracked
    return tracked


_TRACKED: dict[tuple[str, int, int, int], bool] = {}


def open_database(
    root: Path, name: str, schema: str, version: str, *, legacy: tuple[str, ...] = ()
) -> sqlite3.Connection | None:
    """The SQLite database `name` under `root/.isg/cache`, laid out by `schema` and emptied if
    it was made for another `version` (a format and a salt); None when the cache must not be
    used (git tracks it) or cannot be (read-only folder, a file SQLite cannot use twice).
    `legacy`: files of earlier versions, removed when seen."""
    if cache_is_tracked(root):
        return None
    folder = root / CACHE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_ignore_file(folder)
        for old in legacy:
            (folder / old).unlink(missing_ok=True)
    except OSError:
        return None
    path = folder / name
    for attempt in (1, 2):
        try:
            return connect_database(path, schema, version)
        except sqlite3.Error:
            if attempt == 2:
                return None
            try:  # not a database SQLite can use: start again
                path.unlink(missing_ok=True)
            except OSError:
                return None
    return None


def in_chunks(keys: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    """`keys` 500 at a time, each with its `?,?,...` (SQLite caps a statement's parameters)."""
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        yield chunk, ",".join("?" * len(chunk))


def connect_database(path: Path | str, schema: str, version: str) -> sqlite3.Connection:
    """A connection to the database at `path` (or ":memory:"), reset to `schema` (which must
    create `meta (key, value)`) unless it was made for `version`. Raises sqlite3.Error."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        # A database is data, but its schema can name functions: trust none of it.
        db.execute("PRAGMA trusted_schema = OFF")
        db.execute("PRAGMA cell_size_check = ON")
        db.execute("PRAGMA synchronous = OFF")  # a cache: a crash may lose it, not corrupt it
        db.execute("PRAGMA journal_mode = DELETE")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.OperationalError:  # no table yet
            row = None
        if row is None or row[0] != version:
            # Interrupted, it is reset again: the version is written last.
            for (table,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall():
                db.execute(f'DROP TABLE IF EXISTS "{table}"')
            db.executescript(schema)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))
        return db
    except sqlite3.Error:
        db.close()
        raise


def write_ignore_file(folder: Path) -> None:
    """Keep the cache out of commits."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# isg's cache (see isg/record_cache.py); never committed\n*\n")


def load_registry(
    root: Path,
    schemas: SchemaSet,
    *,
    use_cache: bool = True,
    listing: Mapping[str, FileState] | None = None,
    only: Collection[str] | None = None,
) -> Registry:
    """Every record under `root` with whether it is schema-valid, reading only the files that
    changed since the last run (the others' data comes from `.isg/cache/records.json` for
    incidents, `records-other.json` for the rest).

    For the commands that read the records rather than check them (sla, site, reports): the
    same `Registry` as `parse_registry(read_record_files(root))`, plus `valid_paths`.
    `listing`: `current_files(root)`, if the caller has it. `only`: the records at these
    paths, none other (the incidents' cache is then not read: a site rebuild asks for every
    record but incidents, and the few incidents that changed).
    """
    use_cache = use_cache and not cache_is_tracked(root)
    # Git lists the files (three commands, ~0.45 s at 57,000 files, mostly waiting on git)
    # while this thread decodes the cache (~0.7 s of JSON).
    with ThreadPoolExecutor(1) as pool:
        listed = pool.submit(current_files, root) if listing is None else None
        salt = cache_salt(root) if use_cache else ""
        # With `only`, the incidents' cache is never read (~1 s of JSON at 50,000), the
        # other one if some of those paths are not incidents.
        names = [DATA_FILE, OTHER_FILE] if only is None else {_cache_file(rel) for rel in only}
        caches = {
            name: RecordCache.open(root, salt, name) if use_cache else RecordCache.disabled()
            for name in names
            if name != DATA_FILE or only is None
        }
        if listed is not None:
            listing = listed.result()
    assert listing is not None
    if only is not None:
        wanted = set(only)
        listing = {rel: state for rel, state in listing.items() if rel in wanted}
    records: list[Record] = []
    valid: set[str] = set()
    blobs: dict[str, str] = {}
    unread: dict[str, bytes] = {}
    nowhere = RecordCache.disabled()  # the incidents' cache when it is not read
    for rel, (stat, blob) in listing.items():
        cache = caches.get(_cache_file(rel), nowhere)
        row = cache.row(rel, stat, blob)
        if row is not None and len(row) == 5:
            _, is_valid, blobs[rel], data, first_line = row
            kind = KIND_BY_DIRECTORY[rel.split("/")[1]]
            document = Document(data, first_line=first_line, locate=_locator(root, rel))
            records.append(Record(kind, rel, document))
            if is_valid:
                valid.add(rel)
        else:
            unread[rel] = read_one(root, rel)
    fresh = parse_registry(unread)
    for record in fresh.records:
        is_valid = schemas.fast[record.kind.name].is_valid(record.data)
        if is_valid:
            valid.add(record.path)
        records.append(record)
        digest = blobs[record.path] = blob_id(unread[record.path])
        row = [record.path, is_valid, digest, record.data, record.document.first_line]
        caches.get(_cache_file(record.path), nowhere).remember(row, listing[record.path][0])
    for name, cache in caches.items():
        if only is None:  # a file not asked for may still be there
            cache.forget_missing({rel for rel in listing if _cache_file(rel) == name})
        cache.save()
    records.sort(key=lambda r: r.path)
    return Registry(
        records=records,
        load_findings=fresh.load_findings,
        attachments=fresh.attachments,  # never cached: read every time (a few patch files)
        valid_paths=frozenset(valid),
        blobs=blobs,
    )


def _cache_file(rel: str) -> str:
    """The cache that keeps the data of the record at `rel`."""
    return DATA_FILE if rel.startswith(INCIDENTS) else OTHER_FILE


def _locator(root: Path, rel: str) -> Any:
    def locate() -> Document | None:
        record = read_record(root, rel)
        return record.document if record is not None else None

    return locate
