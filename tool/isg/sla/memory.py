"""What `isg sla status --format json` remembers between runs: `.isg/cache/sla.sqlite`.

An incident's JSON line is a function of its record, the calendars and policies (the State,
organisation and service-level records), isg's code and the holiday and time-zone data it
counts with, `now` -- and, with `--evidence`, of the first commit that recorded each of its
milestone times. Once an incident is closed (by `now`), nothing in it depends on `now` any
more (every clock ends at the closing; `evaluate_registry` reuses statuses on the same
ground). Over the years most incidents are closed, so the store keeps:

* `seen`: the first commit recording each (incident, milestone key, instant), as read from
  git's history up to the commit in `meta.tip`. A later run reads only the commits after the
  tip when HEAD grew from it without merges (`git_history.grows_linearly`: then the old
  first commits stay first), else the whole log again; either way it learns which
  incidents' rows changed, and drops their evidence lines in the same transaction.
* `lines`: the JSON line of each closed incident, with the blob id of the file it was made
  from, for runs with and without evidence, under `meta.context`: a digest of the
  foundation records, the schemas, isg's code and the holiday and zone data versions.
* `statuses`: the whole status of each closed incident (`status_json`: every field, times
  with their zone), under the same context, for the commands that need statuses rather
  than lines: `sla status` as text or SVG, `explain`, `watch` and the site
  (`evaluate_remembered`).
* `holidays`: the public holidays the calendars asked the `holidays` package for, by its
  version (importing it takes ~0.4 s: a run that finds them here does not), given to
  `business_calendar` when the store is opened and kept when it is closed.
* `reopened`: the incidents reopened in each year (`git_history.reopened_by_year`), read
  from git's history up to the commit in `meta.reopened`, brought up to HEAD the same way
  as `seen` (`remembered_reopened`: the site's reports count them).
* `reports`: the site's yearly reports (`KeptReports`), each under a key of what it may read
  of incident, RfC and problem files (`compliance.years_read`, `report_digest`; kept by
  blob in `report_reads`), its year and time and reopened incidents, under the same
  context (the commit a report names is set by the build that shows it).

A line or status is reused when the incident's file has the same blob, the incident is
closed by `now` and the context is the same; the output is then byte for byte that of a run
without the store (tests/unit/test_sla_memory.py replays a git history to prove it). Only
open and changed incidents are evaluated, and only new commits read.

Like validation's store (summary_store.py): never used when git tracks `.isg/`, replaced
when SQLite cannot read it, data only (JSON text, never code), written in transactions; any
SQLite error mid-run drops the store for that run and the answer is worked out in full.
`ISG_NO_CACHE=1` skips it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import sys
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from isg.business_calendar import HolidayKey, seed_holidays, take_holidays_worked_out
from isg.compliance import years_read
from isg.errors import IsgError, RegistryError
from isg.forks import forked_soon, workers, worth_forking
from isg.git_history import (
    OBJECT_ID,
    FirstSeenMap,
    LogPlace,
    MilestoneLog,
    grows_linearly,
    milestone_log_place,
    read_milestone_log,
    read_reopened,
    reopened_by_year,
)
from isg.model import FirstSeen, Record
from isg.record_cache import (
    cache_salt,
    in_chunks,
    load_registry,
    open_database,
    package_versions,
)
from isg.records import Registry
from isg.schemas import SchemaSet, load_schemas
from isg.sla.clock import Pause
from isg.sla.context import SlaContext
from isg.sla.incident import Classification, EcabDuty, IncidentStatus, MilestoneStatus
from isg.sla.output import (
    ShownClassification,
    ShownDuty,
    ShownMilestone,
    ShownStatus,
    incident_json,
)
from isg.sla.run import (
    FOUNDATION_KINDS,
    Encoded,
    SlaRun,
    closed_by,
    encode_incidents,
    evaluate_registry,
    incident_evidence,
)
from isg.times import parse_time

T = TypeVar("T")

STORE_FILE = "sla.sqlite"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Statuses asked for: up to this many are looked up one by one, more read in one pass over
# the table (every closed incident's: reading all 50,000 for one took ~0.2 s).
LOOKED_UP = 2000
FORMAT = "12"  # 9: reopened incidents; 10: closing instants; 11: report reads; 12: holidays
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE seen (
    incident TEXT NOT NULL,
    key TEXT NOT NULL,
    instant INTEGER NOT NULL, -- the milestone's time in microseconds since 1970 (an instant
                              -- written with any offset is the same instant)
    commit_id TEXT NOT NULL,
    committed TEXT NOT NULL,  -- the commit's time as git wrote it
    PRIMARY KEY (incident, key, instant)
) WITHOUT ROWID;
CREATE TABLE lines (
    incident TEXT NOT NULL,
    evidence INTEGER NOT NULL,
    blob TEXT NOT NULL,
    line BLOB NOT NULL,       -- zlib of the UTF-8 line (a third of the size)
    PRIMARY KEY (incident, evidence)
);
CREATE TABLE statuses (      -- whole statuses of closed incidents (status_json), for the site
    incident TEXT PRIMARY KEY,
    blob TEXT NOT NULL,
    priority INTEGER NOT NULL, -- what lists show of it, read without decoding the status
    worst TEXT NOT NULL,
    year INTEGER NOT NULL,    -- of its reported_at
    closed INTEGER NOT NULL,  -- its closing instant in microseconds since 1970: reused by a
                              -- run as of that time or later (read without parsing the file)
    digest BLOB NOT NULL,     -- blake2b of `status`: checked on reading, decoded only if asked
    status BLOB NOT NULL      -- zlib of status_json
);
CREATE TABLE reopened (      -- incidents reopened, by the year of the commit, up to meta.reopened
    year INTEGER NOT NULL,
    incident TEXT NOT NULL,
    PRIMARY KEY (year, incident)
) WITHOUT ROWID;
CREATE TABLE holidays (      -- public holidays as the `holidays` package (of `version`) gave them
    version TEXT NOT NULL,
    country TEXT NOT NULL,
    subdivision TEXT NOT NULL, -- '' for none
    year INTEGER NOT NULL,
    days TEXT NOT NULL,        -- JSON: {"YYYY-MM-DD": name}
    PRIMARY KEY (version, country, subdivision, year)
) WITHOUT ROWID;
CREATE TABLE report_reads (  -- what yearly reports read of each file (`year_groups`)
    blob TEXT PRIMARY KEY,    -- its kind and blob: "incident 0123abc..."
    first INTEGER,            -- the years that may read it (NULL: none)
    last INTEGER,             -- (NULL: every year from `first` on)
    digest TEXT NOT NULL      -- of what they read of it (`report_digest`)
) WITHOUT ROWID;
CREATE TABLE reports (       -- the site's yearly reports (plain_json), by what they were made of
    year INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    report BLOB NOT NULL      -- zlib of plain_json
);
"""
SeenRow = tuple[str, str, int, str, str]


class SlaMemory:
    """The store of one registry (see the module docstring)."""

    def __init__(self, db: sqlite3.Connection, salt: str) -> None:
        self.db = db
        self.salt = salt  # cache_salt: the schemas and isg's code the store was opened for
        self.tip: str | None = None  # the commit the `seen` rows were read up to, this run

    @classmethod
    def open(cls, root: Path) -> SlaMemory | None:
        salt = cache_salt(root)
        db = open_database(root, STORE_FILE, _SCHEMA, f"{FORMAT} {salt}")
        if db is None:
            return None
        store = cls(db, salt)
        with contextlib.suppress(sqlite3.Error):
            seed_holidays(store.holidays())
        return store

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.keep_holidays(take_holidays_worked_out())
        self.db.close()

    def holidays(self) -> dict[HolidayKey, dict[date, str]]:
        """The public holidays kept for this version of `holidays` (damaged rows left out)."""
        found = {}
        query = "SELECT country, subdivision, year, days FROM holidays WHERE version = ?"
        for country, subdivision, year, days in self.db.execute(query, (_holidays_version(),)):
            try:
                found[country, subdivision or None, year] = {
                    date.fromisoformat(day): str(name) for day, name in json.loads(days).items()
                }
            except (ValueError, TypeError, AttributeError):
                continue
        return found

    def keep_holidays(self, found: Mapping[HolidayKey, Mapping[date, str]]) -> None:
        version = _holidays_version()
        rows = [
            (version, country, subdivision or "", year, _holiday_text(days))
            for (country, subdivision, year), days in found.items()
        ]
        if rows:
            with self._transaction():
                self.db.executemany("INSERT OR REPLACE INTO holidays VALUES (?, ?, ?, ?, ?)", rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed if the block ends well, else rolled back."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- git's history ------------------------------------------------------------------------

    def update_history(self, root: Path) -> FirstSeenMap | None:
        """Bring `seen` up to HEAD, reading only the commits since the last run where that
        gives the same answer as reading them all. Returns the whole first-seen map when it
        had to read the whole history (else None: ask `first_seen`). The incidents whose rows
        changed lose their evidence lines in the same transaction."""
        place = milestone_log_place(root)
        tip, linear = self._grown_from("tip", "place", place)
        if linear and tip == place[2]:
            self.tip = tip
            return None
        log = read_milestone_log(root, since=tip if linear else None, place=place)
        with self._transaction():
            changed = self._add_seen(log) if linear else self._replace_seen(log)
            for chunk, marks in in_chunks(sorted(changed)):
                query = f"DELETE FROM lines WHERE evidence = 1 AND incident IN ({marks})"
                self.db.execute(query, chunk)
            if log.head is not None:
                self._set_meta("tip", log.head)
                self._set_meta("place", _place_text(place))
        self.tip = log.head
        return None if linear else log.found

    def _grown_from(self, tip_key: str, place_key: str, place: LogPlace) -> tuple[str | None, bool]:
        """The commit a history kept in the store was read up to (`meta[tip_key]`), and
        whether HEAD grew from it without merges in the same place: then reading only the
        commits since gives what reading them all would."""
        top, _, head = place
        tip = self._meta(tip_key)
        linear = (
            head is not None
            and tip is not None
            and OBJECT_ID.fullmatch(tip) is not None
            and self._meta(place_key) == _place_text(place)
            and grows_linearly(top, tip, head)
        )
        return tip, linear

    def reopened(self, root: Path) -> dict[int, set[str]] | None:
        """`git_history.reopened_by_year(root)`, reading only the commits since the last run
        when HEAD grew from it without merges (then the whole history's answer is the old
        one plus theirs: each commit's patch is read on its own); HEAD's answer is kept."""
        try:
            place = milestone_log_place(root)
        except (RegistryError, ValueError):
            return None
        tip, linear = self._grown_from("reopened", "reopened_place", place)
        old: dict[int, set[str]] = {}
        if linear:
            for year, incident in self.db.execute("SELECT year, incident FROM reopened"):
                old.setdefault(year, set()).add(incident)
            if tip == place[2]:
                return old
        log = read_reopened(place, since=tip if linear else None)
        if log is None:
            return None
        with self._transaction():
            if not linear:
                self.db.execute("DELETE FROM reopened")
            rows = [(y, i) for y, found in log.by_year.items() for i in sorted(found)]
            self.db.executemany("INSERT OR IGNORE INTO reopened VALUES (?, ?)", rows)
            self._set_meta("reopened", log.head)
            self._set_meta("reopened_place", _place_text(place))
        for year, found in log.by_year.items():
            old.setdefault(year, set()).update(found)
        return old

    def _add_seen(self, log: MilestoneLog) -> set[str]:
        """The rows of new commits on top of the tip: only what was never seen before."""
        rows = _seen_rows(log.found)
        known = {row[:3] for row in self._seen_of({row[0] for row in rows})}
        new = [row for row in rows if row[:3] not in known]
        self.db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", new)
        return {row[0] for row in new}

    def _replace_seen(self, log: MilestoneLog) -> set[str]:
        """The whole history read again: replace the rows of the incidents that differ."""
        rows = _seen_rows(log.found)
        if self.db.execute("SELECT 1 FROM seen LIMIT 1").fetchone() is None:  # the first run
            self.db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", rows)
            return {row[0] for row in rows}
        new: dict[str, set[SeenRow]] = {}
        for row in rows:
            new.setdefault(row[0], set()).add(row)
        old: dict[str, set[SeenRow]] = {}
        for row in self.db.execute("SELECT * FROM seen"):
            old.setdefault(row[0], set()).add(row)
        changed = {i for i in new.keys() | old.keys() if new.get(i) != old.get(i)}
        for chunk, marks in in_chunks(sorted(changed)):
            self.db.execute(f"DELETE FROM seen WHERE incident IN ({marks})", chunk)
        rows = [row for incident in sorted(changed) for row in sorted(new.get(incident, ()))]
        self.db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", rows)
        return changed

    def _seen_of(self, incidents: Iterable[str]) -> list[SeenRow]:
        found: list[SeenRow] = []
        for chunk, marks in in_chunks(sorted(incidents)):
            query = f"SELECT * FROM seen WHERE incident IN ({marks})"
            found.extend(self.db.execute(query, chunk))
        return found

    def first_seen(self, incidents: Iterable[str]) -> FirstSeenMap:
        """What `first_recorded_milestones` says of these incidents (history as updated)."""
        found: FirstSeenMap = {}
        commits: dict[str, FirstSeen] = {}
        try:
            for incident, key, instant, commit, committed in self._seen_of(incidents):
                first = commits.get(commit)
                if first is None:
                    when = datetime.fromisoformat(committed)
                    if when.tzinfo is None:
                        raise ValueError(f"{committed!r} has no offset")
                    first = commits[commit] = FirstSeen(commit, when)
                found[(incident, key, EPOCH + instant * MICROSECOND)] = first
        except (ValueError, TypeError, OverflowError) as exc:  # a damaged row: not to be guessed
            raise sqlite3.DatabaseError(f"damaged first-seen row: {exc}") from None
        return found

    # --- lines --------------------------------------------------------------------------------

    def use_context(self, digest: str) -> None:
        """Forget every line and status if they were made under another context."""
        if self._meta("context") != digest:
            with self._transaction():
                self.db.execute("DELETE FROM lines")
                self.db.execute("DELETE FROM statuses")
                self.db.execute("DELETE FROM reports")
                self._set_meta("context", digest)

    def statuses(self, blobs: Mapping[str, str]) -> dict[str, KeptStatus]:
        """The statuses kept for incidents whose file is still `blobs[incident]`, not decoded
        (a damaged row is left out: that incident is evaluated afresh)."""
        found = {}
        if len(blobs) <= LOOKED_UP:  # a few (a site rebuild's): looked up by incident
            rows: Iterable[tuple[Any, ...]] = [
                row
                for chunk, marks in in_chunks(sorted(blobs))
                for row in self.db.execute(
                    f"SELECT * FROM statuses WHERE incident IN ({marks})", chunk
                )
            ]
        else:
            rows = self.db.execute("SELECT * FROM statuses")
        for incident, blob, priority, worst, year, closed, digest, packed in rows:
            if blobs.get(incident) != blob or not isinstance(packed, bytes):
                continue
            # The digest finds a damaged row here (~2 us a status); unpacking and parsing
            # (~10 + 50 us) wait until the status is asked for.
            if _fingerprint(packed) != digest:
                continue
            if (
                isinstance(priority, int)
                and isinstance(worst, str)
                and isinstance(year, int)
                and isinstance(closed, int)
            ):
                found[incident] = KeptStatus(
                    incident, priority, worst, year, packed, digest, closed=closed
                )
        return found

    def keep_statuses(self, rows: Sequence[StatusRow], context: str) -> None:
        """Keep rows (`status_row`) made under `context`."""
        self._insert(
            "INSERT OR REPLACE INTO statuses VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows, context
        )

    def reports(self) -> dict[int, tuple[bytes, Any]]:
        """The yearly reports kept: year -> (key, report)."""
        found = {}
        for year, key, packed in self.db.execute("SELECT year, key, report FROM reports"):
            try:
                found[year] = (key, plain_loads(_unpack(packed)))
            except (ValueError, TypeError, KeyError, IndexError, zlib.error):
                continue  # a damaged row: that year is made afresh
        return found

    def report_reads(self, blobs: Collection[str] | None = None) -> dict[str, ReportRead]:
        """What yearly reports read of each file, by its kind and blob (`year_groups`; a damaged
        row is left out); `blobs`: of these only ("kind blob")."""
        rows: Iterable[Any] = (
            self.db.execute("SELECT * FROM report_reads")
            if blobs is None
            else [
                row
                for blob in blobs
                for row in self.db.execute("SELECT * FROM report_reads WHERE blob = ?", (blob,))
            ]
        )
        found = {}
        for blob, first, last, digest in rows:
            if (
                isinstance(blob, str)
                and isinstance(digest, str)
                and (first is None or isinstance(first, int))
                and (last is None or isinstance(last, int))
            ):
                found[blob] = (None if first is None else (first, last), digest)
        return found

    def keep_report_reads(self, reads: Mapping[str, ReportRead]) -> None:
        rows = [
            (blob, None, None, digest) if years is None else (blob, *years, digest)
            for blob, (years, digest) in reads.items()
        ]
        if rows:
            with self._transaction():
                self.db.executemany("INSERT OR REPLACE INTO report_reads VALUES (?, ?, ?, ?)", rows)

    def keep_reports(self, rows: Mapping[int, tuple[bytes, Any]], context: str) -> None:
        """Keep year -> (key, report) made under `context`, replacing what a year had."""
        packed = [(year, key, _pack(plain_dumps(value))) for year, (key, value) in rows.items()]
        self._insert("INSERT OR REPLACE INTO reports VALUES (?, ?, ?)", packed, context)

    def lines(self, evidence: bool, blobs: Mapping[str, str]) -> dict[str, str]:
        """The lines kept for incidents whose file is still `blobs[incident]`."""
        query = "SELECT incident, blob, line FROM lines WHERE evidence = ?"
        found = {}
        for incident, blob, packed in self.db.execute(query, (int(evidence),)):
            if blobs.get(incident) == blob:
                try:
                    line = _unpack(packed)
                except (ValueError, TypeError, zlib.error):
                    continue  # a damaged row: that incident is evaluated afresh
                if _whole_line(line):
                    found[incident] = line
        return found

    def keep(
        self, evidence: bool, rows: Sequence[tuple[str, str, str]], context: str, tip: str | None
    ) -> None:
        """Keep (incident, blob, line) rows made under `context` (and, with evidence, from the
        history up to `tip`) unless another run has moved either on meanwhile."""
        packed = _packed_all([line for _, _, line in rows])
        self._insert(
            "INSERT OR REPLACE INTO lines VALUES (?, ?, ?, ?)",
            [
                (incident, int(evidence), blob, line)
                for (incident, blob, _), line in zip(rows, packed, strict=True)
            ],
            context,
            at_tip=evidence,
            tip=tip,
        )

    def _insert(
        self,
        sql: str,
        rows: Sequence[tuple[Any, ...]],
        context: str,
        *,
        at_tip: bool = False,
        tip: str | None = None,
    ) -> None:
        """Insert `rows` in one transaction if the store is still under `context` (and, with
        `at_tip`, its history still read up to `tip`): another run may have moved either on
        meanwhile, and then what was made here is not kept."""
        if not rows:
            return
        with self._transaction():
            if self._meta("context") == context and (not at_tip or self._meta("tip") == tip):
                self.db.executemany(sql, rows)


def _place_text(place: LogPlace) -> str:
    """The repository and incidents' folder a history kept in the store was read from."""
    top, folder, _ = place
    return f"{top}\0{folder}"


StatusRow = tuple[str, str, int, str, int, int, bytes, bytes]


def status_row(status: IncidentStatus, blob: str, closed: datetime) -> StatusRow:
    """The row of `statuses` keeping `status` of the incident file `blob`, closed at
    `closed`."""
    packed = _pack(status_json(status))
    return (
        status.incident_id,
        blob,
        status.priority,
        status.worst,
        status.reported_at.year,
        _microseconds(closed),
        _fingerprint(packed),
        packed,
    )


def _microseconds(instant: datetime) -> int:
    """An instant as whole microseconds since 1970 (exact: a datetime holds no finer)."""
    return (instant - EPOCH) // MICROSECOND


class KeptStatus:
    """A status the store kept, not decoded yet: what lists of incidents show of it (its
    priority, worst state and year), a digest of its stored form, and the form itself,
    decoded (once) only where all of it is needed (a page, a yearly report, the chart).
    At 50,000 incidents decoding every status took 3.5-4.5 s of each site build."""

    __slots__ = (
        "_packed",
        "_shown",
        "_status",
        "closed",
        "fingerprint",
        "incident_id",
        "priority",
        "worst",
        "year",
    )

    def __init__(
        self,
        incident_id: str,
        priority: int,
        worst: str,
        year: int,
        packed: bytes,
        fingerprint: bytes,
        *,
        closed: int,
    ) -> None:
        self.incident_id = incident_id
        self.closed = closed  # its closing instant, in microseconds since 1970
        self.priority = priority
        self.worst = worst
        self.year = year
        self.fingerprint = fingerprint  # equal digests, equal statuses (see the site's memo)
        self._packed = packed
        self._status: IncidentStatus | None = None
        self._shown: ShownStatus | None = None

    def status(self) -> IncidentStatus:
        """The whole status (IsgError if the store held a damaged one)."""
        if self._status is None:
            self._status = self._decoded(status_from_json)
        return self._status

    def shown(self) -> ShownStatus:
        """What its page shows of it (`shown_status` of the whole status), read from the
        stored text without making the whole status."""
        if self._shown is None:
            self._shown = self._decoded(shown_from_json)
        return self._shown

    def _decoded(self, decode: Callable[[str], T]) -> T:
        try:
            return decode(_unpack(self._packed))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error) as exc:
            raise IsgError(
                f"the SLA store ({STORE_FILE} in .isg/cache) holds a damaged status of"
                f" {self.incident_id} ({exc}); remove the file and run again"
            ) from None


def _fingerprint(packed: bytes) -> bytes:
    return hashlib.blake2b(packed, digest_size=16).digest()


PACK_APART_FROM = 2000  # texts: fewer are packed in the calling thread


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode(), 1)


def _packed_all(texts: Sequence[str]) -> list[bytes]:
    """`_pack` of each text, in order; by a thread a core when there are many (zlib lets
    other threads run while it compresses): 49,469 evidence lines took ~1.4 s in one."""
    count = workers()
    if len(texts) < PACK_APART_FROM or count < 2:
        return [_pack(text) for text in texts]
    size = -(-len(texts) // count)
    parts = [texts[start : start + size] for start in range(0, len(texts), size)]
    with ThreadPoolExecutor(len(parts)) as pool:
        done = list(pool.map(lambda part: [_pack(text) for text in part], parts))
    return [packed for part in done for packed in part]


def _unpack(packed: bytes) -> str:
    """The text `_pack` stored; ValueError, TypeError or zlib.error for anything else."""
    if not isinstance(packed, bytes):
        raise TypeError(f"a {type(packed).__name__} where the store keeps bytes")
    return zlib.decompress(packed).decode()


def _whole_line(line: object) -> bool:
    """A kept line as `incident_json` wrote it (one JSON object), not a damaged cell."""
    return isinstance(line, str) and line.startswith("{") and line.endswith("}")


def _seen_rows(found: FirstSeenMap) -> list[SeenRow]:
    """The rows of `seen`, in its key's order (SQLite fills its index fastest so)."""
    commits: dict[FirstSeen, str] = {}  # a commit records many milestones: format it once
    rows = []
    for (incident, key, instant), first in found.items():
        committed = commits.get(first)
        if committed is None:
            committed = commits[first] = first.committed_at.isoformat()
        rows.append((incident, key, (instant - EPOCH) // MICROSECOND, first.commit, committed))
    rows.sort()
    return rows


def context_digest(salt: str, registry: Registry) -> str | None:
    """What every line depends on besides its incident: the foundation records (by blob), the
    schemas and isg's code (`salt`, from `cache_salt`), and the holiday and zone data. None
    when the registry's loader did not know the blobs."""
    if registry.blobs is None:
        return None
    digest = hashlib.sha1(salt.encode(), usedforsecurity=False)
    for kind in FOUNDATION_KINDS:
        for record in registry.of_kind(kind):
            digest.update(f"{record.path}\0{registry.blobs.get(record.path)}\0".encode())
    digest.update(f"{sys.version}\0{_data_versions()}".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _holidays_version() -> str:
    return package_versions(("holidays",))[0]


def _holiday_text(days: Mapping[date, str]) -> str:
    return json.dumps({day.isoformat(): name for day, name in sorted(days.items())})


def _data_versions() -> str:
    """The versions of the holiday and time-zone data every deadline is counted with."""
    found = package_versions(("holidays", "tzdata"))
    try:  # the system's zone data, when Python uses it: its first line names the release
        with open("/usr/share/zoneinfo/tzdata.zi", "rb") as handle:
            found.append(handle.readline(64).decode("ascii", "replace").strip())
    except OSError:
        found.append("no system tzdata.zi")
    return "; ".join(found)


# --- whole statuses, as data -------------------------------------------------------------


def plain_dumps(value: Any) -> str:
    """Plain data (dicts, lists, tuples, strings, numbers, booleans, None) as JSON that
    `plain_loads` turns back into an equal value of the same types: dicts keep keys that are
    numbers and tuples stay tuples (a report's counts by priority are keyed by integers,
    which plain JSON would give back as strings). TypeError for anything else."""
    return json.dumps(_tag(value), separators=(",", ":"), ensure_ascii=False)


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str | int) and not isinstance(k, bool) for k in value):
            raise TypeError("only string and integer keys are kept")
        return ["d", [[k, _tag(v)] for k, v in value.items()]]
    if isinstance(value, list):
        return ["l", [_tag(v) for v in value]]
    if isinstance(value, tuple):
        return ["t", [_tag(v) for v in value]]
    raise TypeError(f"cannot keep a {type(value).__name__}")


def plain_loads(text: str) -> Any:
    return _untag(json.loads(text))


def _untag(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    tag, items = value
    if tag == "d":
        return {k: _untag(v) for k, v in items}
    if tag == "l":
        return [_untag(v) for v in items]
    if tag == "t":
        return tuple(_untag(v) for v in items)
    raise ValueError(f"unknown tag {tag!r}")


def status_json(status: IncidentStatus) -> str:
    """Every field of `status` as JSON (`status_from_json` gives back an identical status:
    times keep their zone, durations their microseconds).

    Positional arrays, in the order of each class's fields (tests/unit/test_sla_memory.py
    checks the orders against the classes): at 50,000 incidents the site reads back 49,000
    statuses before rendering, and objects with named keys (128 MB of JSON) took ~9 s
    to decode."""
    return json.dumps(
        [
            status.incident_id,
            status.title,
            status.reporting_state,
            status.status,
            status.priority,
            status.policy_id,
            _put_time(status.reported_at),
            [
                [c.impact, c.urgency, c.priority, _put_time(c.until), c.reason]
                for c in status.history
            ],
            [_put_milestone(m) for m in status.milestones],
            [
                [d.duty, d.channel, d.required, _put_milestone(d.status) if d.status else None]
                for d in status.ecab
            ],
            [[_put_time(p.start), _put_time(p.end), p.waiting_on, p.reason] for p in status.pauses],
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


STATUS_FIELDS = {  # the order status_json writes each class's fields in
    IncidentStatus: (
        "incident_id",
        "title",
        "reporting_state",
        "status",
        "priority",
        "policy_id",
        "reported_at",
        "history",
        "milestones",
        "ecab",
        "pauses",
    ),
    Classification: ("impact", "urgency", "priority", "until", "reason"),
    MilestoneStatus: (
        "milestone",
        "name",
        "target",
        "target_time",
        "calendar",
        "deadline",
        "margin_deadline",
        "completed_at",
        "elapsed",
        "state",
        "note",
    ),
    EcabDuty: ("duty", "channel", "required", "status"),
    Pause: ("start", "end", "waiting_on", "reason"),
}


def _put_milestone(m: MilestoneStatus) -> list[Any]:
    return [
        m.milestone,
        m.name,
        m.target,
        m.target_time // MICROSECOND,
        m.calendar,
        _put_time(m.deadline),
        _put_time(m.margin_deadline),
        _put_time(m.completed_at),
        m.elapsed // MICROSECOND,
        m.state,
        m.note,
    ]


def _put_time(value: datetime | None) -> str | list[str] | None:
    """A time as its ISO text, with the zone's key beside it when it has one."""
    if value is None:
        return None
    if isinstance(value.tzinfo, ZoneInfo):
        return [value.isoformat(), value.tzinfo.key]
    return value.isoformat()


def status_from_json(text: str) -> IncidentStatus:
    s = json.loads(text)
    return IncidentStatus(
        s[0],
        s[1],
        s[2],
        s[3],
        s[4],
        s[5],
        _moment(s[6]),
        tuple(Classification(c[0], c[1], c[2], _time(c[3]), c[4]) for c in s[7]),
        tuple(_milestone(m) for m in s[8]),
        tuple(EcabDuty(d[0], d[1], d[2], _milestone(d[3]) if d[3] else None) for d in s[9]),
        tuple(Pause(_moment(p[0]), _time(p[1]), p[2], p[3]) for p in s[10]),
    )


def shown_from_json(text: str) -> ShownStatus:
    """`shown_status(status_from_json(text))`, without making datetimes: a stored time is
    its `isoformat()` (with its zone's key beside it when it has one), so its text to the
    minute is a cut of that text."""
    s = json.loads(text)
    return ShownStatus(
        s[0],
        s[2],
        s[4],
        s[5],
        tuple(ShownClassification(c[0], c[1], c[2], _minutes(c[3]), c[4]) for c in s[7]),
        tuple(_shown_milestone(m) for m in s[8]),
        tuple(ShownDuty(d[0], d[1], _shown_milestone(d[3]) if d[3] else None) for d in s[9]),
    )


def _shown_milestone(m: list[Any]) -> ShownMilestone:
    deadline, margin = _minutes(m[5]), _minutes(m[6])
    if deadline is None or margin is None:
        raise ValueError("a milestone without its deadlines")
    return ShownMilestone(m[1], m[2], deadline, margin, _minutes(m[7]), m[9])


def _minutes(value: str | list[str] | None) -> str | None:
    """A stored time's text to the minute: `isoformat()` writes YYYY-MM-DDTHH:MM:SS, then
    .ffffff when there are microseconds, then the offset; `isoformat(timespec="minutes")`
    the same without the seconds and microseconds."""
    if value is None:
        return None
    text = value if isinstance(value, str) else value[0]
    if not isinstance(text, str) or len(text) < 19 or text[10] != "T":
        raise ValueError(f"not a stored time: {value!r}")
    return text[:16] + text[26 if text[19:20] == "." else 19 :]


def _milestone(m: list[Any]) -> MilestoneStatus:
    return MilestoneStatus(
        m[0],
        m[1],
        m[2],
        m[3] * MICROSECOND,
        m[4],
        _moment(m[5]),
        _moment(m[6]),
        _time(m[7]),
        m[8] * MICROSECOND,
        m[9],
        m[10],
    )


def _time(value: str | list[str] | None) -> datetime | None:
    return None if value is None else _moment(value)


def _moment(value: str | list[str]) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return datetime.fromisoformat(value[0]).astimezone(_zone(value[1]))


@lru_cache(maxsize=64)
def _zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


# --- statuses, remembered -------------------------------------------------------------------


def evaluate_remembered(
    root: Path,
    registry: Registry,
    schemas: SchemaSet,
    *,
    now: datetime,
    ids: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
    lazy: bool = False,
) -> SlaRun:
    """`evaluate_registry`, reusing the statuses of closed incidents the store kept (their
    files unchanged, the context the same) and keeping those of newly closed ones. With
    `lazy`, the reused statuses are not decoded: they are in `run.kept`, not `run.statuses`
    (`AllStatuses(run)` gives every status by incident)."""
    store = SlaMemory.open(root) if use_cache else None
    digest = context_digest(store.salt, registry) if store is not None else None
    if store is None or digest is None:
        if store is not None:
            store.close()
        return evaluate_registry(registry, schemas, now=now, ids=ids, progress=progress)
    try:
        blobs = _incident_blobs(registry)
        asked = set(ids)
        wanted = {i: b for i, b in blobs.items() if i in asked} if ids else blobs
        try:
            store.use_context(digest)
            kept = store.statuses(wanted)
        except sqlite3.Error:
            kept = {}
        # Reused only if closed by `now` (a build as of an earlier time evaluates afresh): a
        # status is kept only of a closed incident, with the instant its file (the same blob)
        # says it closed at.
        until = _microseconds(now)
        kept = {i: k for i, k in kept.items() if k.closed <= until}
        if lazy:
            run = evaluate_registry(
                registry, schemas, now=now, ids=ids, reused=kept.keys(), progress=progress
            )
            run.kept = kept
        else:
            known = {}
            for incident, status in kept.items():
                with contextlib.suppress(IsgError):  # a damaged status: evaluated afresh
                    known[incident] = status.status()
            kept = {i: k for i, k in kept.items() if i in known}
            run = evaluate_registry(
                registry, schemas, now=now, ids=ids, known=known, progress=progress
            )
        fresh = [
            status_row(status, blobs[status.incident_id], closed)
            for status in run.statuses
            if status.incident_id not in kept
            and status.incident_id in blobs
            and (closed := _closed_at(registry.get("incident", status.incident_id), now))
            is not None
        ]
        # Newly kept statuses get their fingerprint now: the next build, which reads them
        # back, then keys their pages as this one does.
        run.fingerprints = {i: k.fingerprint for i, k in kept.items()}
        run.fingerprints.update((row[0], row[-2]) for row in fresh)
        with contextlib.suppress(sqlite3.Error):
            store.keep_statuses(fresh, digest)
        return run
    finally:
        store.close()


def _incident_blobs(registry: Registry) -> dict[str, str]:
    """The blob of each incident ID's file (the first file of an ID is the one used)."""
    blobs: dict[str, str] = {}
    for record in registry.of_kind("incident"):
        if registry.blobs is not None and record.path in registry.blobs:
            blobs.setdefault(record.id, registry.blobs[record.path])
    return blobs


# --- the JSON document, remembered ---------------------------------------------------------


def json_line(
    status: IncidentStatus,
    record: Record,
    context: SlaContext,
    *,
    first_seen: FirstSeenMap | None,
) -> str:
    """One incident's line of `sla status --format json`, with evidence when `first_seen`."""
    proof = None
    if first_seen is not None:
        proof = incident_evidence(status, record, context, first_seen)
    return incident_json(status, proof)


def status_json_lines(
    root: Path,
    *,
    now: datetime,
    evidence: bool,
    ids: Sequence[str] = (),
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Encoded]:
    """Each incident's line of `sla status --format json` (or why it was skipped), in ID
    order, reusing the lines of closed incidents the store kept. git's history is read while
    the records load."""
    store = SlaMemory.open(root) if use_cache else None
    try:
        yield from _status_json_lines(root, store, now, evidence, ids, use_cache, progress)
    finally:
        if store is not None:
            store.close()


def _status_json_lines(
    root: Path,
    memory: SlaMemory | None,  # None from the first SQLite error on: the answer in full
    now: datetime,
    evidence: bool,
    ids: Sequence[str],
    use_cache: bool,
    progress: Callable[[int, int], None] | None,
) -> Iterator[Encoded]:
    schemas = load_schemas(root)
    with ThreadPoolExecutor(1) as pool:
        history = pool.submit(_history, root, memory) if evidence else None
        registry = load_registry(root, schemas, use_cache=use_cache)
        first_seen, memory = history.result() if history is not None else (None, memory)
    digest = context_digest(memory.salt, registry) if memory is not None else None
    if digest is None:
        memory = None
    blobs = _incident_blobs(registry)
    known: dict[str, str] = {}
    if memory is not None and digest is not None:
        try:
            memory.use_context(digest)
            known = {
                incident: line
                for incident, line in memory.lines(evidence, blobs).items()
                if _closed(registry.get("incident", incident), now)
            }
            if evidence and first_seen is None:
                todo = [r.id for r in registry.of_kind("incident") if r.id not in known]
                first_seen = memory.first_seen(todo)
        except sqlite3.Error:
            memory, known = None, {}
    if evidence and first_seen is None:  # the store failed: read the whole history after all
        first_seen = read_milestone_log(root).found
    encode = partial(json_line, first_seen=first_seen)
    fresh: list[tuple[str, str, str]] = []
    for item in encode_incidents(
        registry, schemas, now=now, ids=ids, encode=encode, known=known, progress=progress
    ):
        made, text = item.record, item.text  # a line just made, of a closed incident: keep
        if made is not None and text is not None and not item.reused and closed_by(made, now):
            fresh.append((made.id, blobs.get(made.id, ""), text))
        yield item
    if memory is not None and digest is not None:
        fresh = [row for row in fresh if row[1]]  # of files known by blob
        with contextlib.suppress(sqlite3.Error):
            memory.keep(evidence, fresh, digest, memory.tip)


def _closed(record: Record | None, now: datetime) -> bool:
    return record is not None and closed_by(record, now)


def _closed_at(record: Record | None, now: datetime) -> datetime | None:
    """When the incident closed, if it is closed by `now` (`closed_by`)."""
    if record is None or not closed_by(record, now):
        return None
    return parse_time(record.data["milestones"]["closed"])  # closed_by parsed it


def _history(root: Path, memory: SlaMemory | None) -> tuple[FirstSeenMap | None, SlaMemory | None]:
    """(the whole first-seen map, None) without a store; with one, its history brought up to
    date, (the whole map if it was read, store); the whole map and no store if the store
    failed."""
    if memory is not None:
        try:
            return memory.update_history(root), memory
        except sqlite3.Error:
            memory.close()
    return read_milestone_log(root).found, None


def remembered_reopened(root: Path, *, use_cache: bool = True) -> dict[int, set[str]] | None:
    """`git_history.reopened_by_year(root)`, kept in the store: a build at the commit of the
    last reads nothing, one a few commits later reads only those (the whole history's
    `git log -p` is ~2.3 s of git and 58 MB to scan at 50,000 incidents)."""
    store = SlaMemory.open(root) if use_cache else None
    if store is None:
        return reopened_by_year(root)
    try:
        return store.reopened(root)
    except sqlite3.Error:
        return reopened_by_year(root)
    finally:
        store.close()


# --- yearly reports, remembered ------------------------------------------------------------

REPORT_KINDS = ("incident", "rfc", "problem")  # the records a yearly report reads


class KeptReports:
    """The site's yearly reports kept in the store, each under a key of what it was made
    from: what the year's report may read (`report_digest`) of every incident, RfC and
    problem it may read (`compliance.years_read`), the year, the time it is reported at (a
    past year's end, else the build's time) and the reopened incidents (the commit it names
    is set by the build: a new commit remakes only the years its changed records are read
    in); the policies, calendars, schemas and isg's code are the store's context (a change
    empties it). A build in which no such record changed reuses every past year's report
    (twelve years at 50,000 incidents: ~3.5 s), the hourly Pages build among them; one that
    changed what reports read of an incident makes again only the years that incident is
    in (retitling it makes none).

    Which years read each record, and what they read, is kept by blob (`report_reads`):
    worked out for every record it took ~1.4 s at 50,000 incidents. With many records a
    forked worker reads what is kept and works out the rest while the build goes on (the
    SLA statuses, the redaction), and the first `key` waits for it and keeps what it
    worked out. `close` stops it if no key was asked."""

    def __init__(
        self,
        store: SlaMemory,
        context: str,
        groups: Callable[[], tuple[YearGroups, dict[str, ReportRead]]],
        stack: contextlib.ExitStack | None = None,
    ) -> None:
        self.store = store
        self.context = context
        self._groups = groups  # asked once, by the first `key`
        self._found: YearGroups | None = None
        self.kept = store.reports()
        self._stack = stack or contextlib.ExitStack()  # the worker working `groups` out

    @classmethod
    def open(cls, root: Path, registry: Registry) -> KeptReports | None:
        """None when the store cannot be used or the registry's blobs are not known."""
        store = SlaMemory.open(root)
        if store is None:
            return None
        context = context_digest(store.salt, registry)
        blobs = registry.blobs
        if (
            context is None
            or blobs is None
            or any(r.path not in blobs for kind in REPORT_KINDS for r in registry.of_kind(kind))
        ):
            store.close()
            return None
        try:
            store.use_context(context)
        except sqlite3.Error:
            store.close()
            return None
        if not worth_forking(len(registry.records), REPORT_KEYS_PARALLEL_FROM):
            return cls(store, context, lambda: year_groups(registry, _reads_of(store)))
        with contextlib.ExitStack() as stack:
            # The worker reads the kept reads through its own connection (the parent's is
            # not the child's to use).
            soon = stack.enter_context(forked_soon(_year_groups_of, [(root, registry)]))
            kept = cls(store, context, lambda: soon()[0], stack.pop_all())
        return kept

    def key(self, year: int, at: datetime, reopened: set[str] | None) -> bytes:
        if self._found is None:
            self._found, fresh = self._groups()
            self._stack.close()  # the worker is done
            with contextlib.suppress(sqlite3.Error):
                self.store.keep_report_reads(fresh)
        digest = hashlib.blake2b(digest_size=16)
        for (first, last), lines in self._found:
            if first <= year and (last is None or year <= last):
                digest.update(lines)
        made_of = repr((year, at.isoformat(), sorted(reopened or ()), reopened is None))
        digest.update(made_of.encode())
        return digest.digest()

    def get(self, year: int, key: bytes) -> Any | None:
        found = self.kept.get(year)
        return found[1] if found is not None and found[0] == key else None

    def keep(self, rows: Mapping[int, tuple[bytes, Any]]) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.store.keep_reports(rows, self.context)

    def close(self) -> None:
        self._stack.close()
        self.store.close()


REPORT_KEYS_PARALLEL_FROM = 10_000  # records: below, working the groups out here is quicker
# The records a report may read, grouped by the years that may read them: for each group
# (first year, last year or None for every year on), a digest of its records' paths and
# what reports read of them, in path order; the groups in a fixed order.
YearGroups = list[tuple[tuple[int, int | None], bytes]]
ReportRead = tuple[tuple[int, int | None] | None, str]  # years_read, report_digest

# What no yearly report reads of an incident: its free text, who reported it and how (read by
# neither `compliance`, `compliance_report` nor the SLA's deadlines; the status's title is not
# in a report). Editing them leaves every report as it was (tests/cli/test_site_memo.py).
REPORT_BLIND = frozenset({"title", "description", "internal_notes", "reported_by", "channel"})


def report_digest(kind: str, data: Mapping[str, Any]) -> str:
    """A digest of what yearly reports may read of a record: all of an incident but
    `REPORT_BLIND`, all of anything else (repr of YAML's plain data is faithful)."""
    if kind == "incident":
        data = {name: value for name, value in data.items() if name not in REPORT_BLIND}
    text = repr(data).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def year_groups(
    registry: Registry, known: Mapping[str, ReportRead]
) -> tuple[YearGroups, dict[str, ReportRead]]:
    """Each year's report key is made from the digests of the groups whose years hold it:
    a change to what reports read of a record, or to its years, changes the key of every
    year that may read it. `known`: what is kept, by blob; returned with the groups: what
    was worked out here, by blob."""
    groups: dict[tuple[int, int | None], Any] = {}
    blobs = registry.blobs or {}
    fresh: dict[str, ReportRead] = {}
    for kind in REPORT_KINDS:
        for record in sorted(registry.of_kind(kind), key=lambda r: r.path):
            blob = f"{kind} {blobs[record.path]}"  # what a file is read as depends on its kind
            found = known.get(blob) or fresh.get(blob)
            if found is None:
                found = fresh[blob] = (
                    years_read(kind, record.data),
                    report_digest(kind, record.data),
                )
            years, digest = found
            if years is not None:
                if years not in groups:
                    groups[years] = hashlib.blake2b(digest_size=16)
                groups[years].update(f"{record.path}\0{digest}\n".encode())
    order = sorted(groups, key=lambda y: (y[0], y[1] is None, y[1] or 0))
    return [(years, groups[years].digest()) for years in order], fresh


def _reads_of(store: SlaMemory) -> dict[str, ReportRead]:
    try:
        return store.report_reads()
    except sqlite3.Error:
        return {}


def _year_groups_of(job: tuple[Path, Registry]) -> tuple[YearGroups, dict[str, ReportRead]]:
    """`year_groups` in a forked worker, reading what is kept through its own connection."""
    root, registry = job
    store = SlaMemory.open(root)
    try:
        known = _reads_of(store) if store is not None else {}
    finally:
        if store is not None:
            store.close()
    return year_groups(registry, known)
