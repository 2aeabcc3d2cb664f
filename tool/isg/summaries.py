"""What validation keeps of one record file: its own findings and the facts that the rules
across records need.

Checking a registry splits in two (see integrity.py). A `RecordSummary` holds everything
that depends on one file alone -- parse and schema findings, the header line, the
`RECORD_RULES` findings, the file's ID, references and latest time, and, for the few kinds
the cross-record rules read in full (`DATA_KINDS`), its data. A summary is a function of the
file's path and bytes, the schemas and the members' e-mail addresses, nothing else, so it can
be computed in parallel and remembered (record_cache.py). `Summaries` is the collection the
`REGISTRY_RULES` run over; `summarize_all` builds it, sharing the work out over processes when
there is enough of it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from isg.canonical import schema_header
from isg.forks import collector_paused, fork_map, worth_forking
from isg.integrity import RECORD_RULES, mentions_email, record_references, record_times
from isg.layout import RECORDS_DIR
from isg.model import KIND_BY_DIRECTORY, KIND_BY_NAME, Finding, Record, record_finding
from isg.records import ATTACHMENT_SUFFIXES, Registry, file_problem, file_stem
from isg.safe_yaml import Document, JsonPath, YamlError, parse_document
from isg.schemas import SchemaSet, check_record

# Kinds whose data the rules across records read: few records each, kept in full.
DATA_KINDS = frozenset(
    {
        "state",
        "organisation",
        "member",
        "service-levels",
        "ci",
        "rfc",
        "release",
        "budget",
        "governance",
    }
)
ATTACHMENT = "attachment"  # the `kind` of a patch file beside an RfC
UNREADABLE = ""  # the `kind` of a file that is not a readable record (its findings say why)
PARALLEL_FROM = 1500  # fewer files than this are not worth starting processes for

# (path, value, allowed kinds); sequences, as JSON gives them back (tuples or lists)
Reference = tuple[Sequence[str | int], str, Sequence[str]]


def blob_id(raw: bytes) -> str:
    """The git blob id of `raw`: equal to what `git ls-tree` says for the same bytes."""
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def emails_key(allowed: Iterable[str]) -> str:
    """A short name for a set of members' addresses (which privacy findings assumed)."""
    text = "\n".join(sorted(a.lower() for a in allowed))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


@dataclass
class RecordSummary:
    path: str
    kind: str
    digest: str = ""
    id: str = ""
    findings: tuple[Finding, ...] = ()
    refs: Sequence[Reference] = ()
    latest: datetime | None = None
    mentions_email: bool = False
    emails: str = ""  # emails_key the privacy findings were computed with
    valid: bool = False  # schema-valid
    data: dict[str, Any] | None = None  # DATA_KINDS only
    first_line: str = ""

    def as_json(self) -> list[Any]:
        return [
            self.path,
            self.kind,
            self.digest,
            self.id,
            [list(f.__dict__.values()) for f in self.findings],
            [[list(p), v, list(k)] for p, v, k in self.refs] if self.refs else [],
            self.latest.isoformat() if self.latest else None,
            self.mentions_email,
            self.emails,
            self.valid,
            self.data,
            self.first_line,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> RecordSummary:
        (
            path,
            kind,
            digest,
            rid,
            findings,
            refs,
            latest,
            mentions,
            emails,
            valid,
            data,
            first_line,
        ) = row
        # Read back for every file on every run: skip the dataclass __init__ and convert
        # only what is there (most files have no findings).
        summary = cls.__new__(cls)
        summary.path, summary.kind, summary.digest, summary.id = path, kind, digest, rid
        summary.findings = tuple(Finding(*f) for f in findings) if findings else ()
        summary.refs = refs  # kept as lists: turned into a path only for a finding
        summary.latest = datetime.fromisoformat(latest) if latest else None
        summary.mentions_email, summary.emails, summary.valid = mentions, emails, valid
        summary.data, summary.first_line = data, first_line
        return summary


def summarize_file(
    path: str, raw: bytes, schemas: SchemaSet, allowed: frozenset[str]
) -> RecordSummary:
    """The summary of the file at `path` with content `raw` (a marker for links and such)."""
    digest = blob_id(raw)
    if path.startswith(f"{RECORDS_DIR}/rfcs/") and path.endswith(ATTACHMENT_SUFFIXES):
        return RecordSummary(path, ATTACHMENT, digest, valid=True)
    problem = file_problem(path, raw)
    if problem:
        finding = Finding(path=path, line=1, column=1, message=problem, rule="file")
        return RecordSummary(path, UNREADABLE, digest, findings=(finding,))
    kind = KIND_BY_DIRECTORY[path.split("/")[1]]
    try:
        document = parse_document(raw)
    except YamlError as exc:
        where = exc.position
        finding = Finding(path, where.line, where.column, exc.message, rule="yaml")
        return RecordSummary(path, UNREADABLE, digest, findings=(finding,))
    summary = summarize_record(Record(kind, path, document), schemas, allowed)
    summary.digest = digest
    return summary


def summarize_record(record: Record, schemas: SchemaSet, allowed: frozenset[str]) -> RecordSummary:
    """The summary of a parsed record."""
    schema_findings = check_record(record, schemas)
    findings = list(schema_findings)
    if record.document.first_line != schema_header(record.kind):
        findings.append(
            Finding(
                path=record.path,
                line=1,
                column=1,
                rule="format",
                message="the first line must point editors at the schema",
                hint=f"make it '{schema_header(record.kind)}' (isg fmt does)",
            )
        )
    for rule in RECORD_RULES:
        findings.extend(rule(record, schemas, allowed))
    times = [when for _, _, when in record_times(record, schemas)]
    return RecordSummary(
        path=record.path,
        kind=record.kind.name,
        id=record.id,
        findings=tuple(findings),
        refs=tuple(record_references(record, schemas)),
        latest=max(times) if times else None,
        mentions_email=(mentions := mentions_email(record, schemas)),
        emails=emails_key(allowed) if mentions else "",  # only these depend on the addresses
        valid=not schema_findings,
        data=record.data if record.kind.name in DATA_KINDS else None,
        # Kept only where a Record is rebuilt from the summary (the header is checked above).
        first_line=record.document.first_line if record.kind.name in DATA_KINDS else "",
    )


class SummaryIndex(ABC):
    """What the rules across records ask of the summaries (integrity.REGISTRY_RULES).

    Two implementations answer the same questions: `Summaries`, every summary in memory
    (the definition, used without a cache), and `summary_store.StoredSummaries`, which asks
    SQLite so that a run touches only what changed. Tests hold the two to the same findings.
    """

    schemas: SchemaSet
    read: Callable[[str], Record | None]  # the full record at a path (parsed again)

    @abstractmethod
    def misnamed(self) -> Iterable[RecordSummary]:
        """Records whose ID is not their file name."""

    @abstractmethod
    def duplicated(self) -> Iterable[RecordSummary]:
        """Records whose ID another record of the same kind also has."""

    @abstractmethod
    def unresolved(self) -> Iterable[tuple[RecordSummary, Reference]]:
        """References whose value is the ID of no record of a kind they allow."""

    @abstractmethod
    def has_id(self, kind: str, value: str) -> bool:
        """Whether a record of `kind` has the ID `value`."""

    @abstractmethod
    def is_unreadable(self, path: str) -> bool:
        """Whether the file at `path` exists but is not a readable record."""

    @abstractmethod
    def later_than(self, now: datetime) -> Iterable[RecordSummary]:
        """Records holding a time after `now`."""

    @abstractmethod
    def file_findings(self) -> Iterable[Finding]:
        """The findings each file has on its own."""

    @abstractmethod
    def count_by_kind(self) -> Counter[str]:
        """Records (not attachments, not unreadable files) by kind."""

    @abstractmethod
    def data_summaries(self) -> Iterable[RecordSummary]:
        """The summaries that keep their data (`DATA_KINDS`), by path."""

    @abstractmethod
    def attachment_paths(self) -> set[str]:
        """The patch files beside RfCs."""

    def record(self, summary: RecordSummary) -> Record:
        record = self.read(summary.path)
        if record is None:  # the file changed under us; point at its first line
            return Record(KIND_BY_NAME[summary.kind], summary.path, Document({}, {}, {}))
        return record

    def finding(self, summary: RecordSummary, path: JsonPath, message: str, **kw: Any) -> Finding:
        return record_finding(self.record(summary), path, message, **kw)

    def registry(self) -> Registry:
        """The records of `DATA_KINDS` (whose data is kept), for the rules that read them."""
        records = [
            Record(
                KIND_BY_NAME[s.kind],
                s.path,
                Document(s.data, first_line=s.first_line, locate=self._locator(s.path)),
            )
            for s in self.data_summaries()
            if s.data is not None
        ]
        return Registry(records=records, attachments=self.attachment_paths())

    def _locator(self, path: str) -> Callable[[], Document | None]:
        def locate() -> Document | None:
            record = self.read(path)
            return record.document if record is not None else None

        return locate


@dataclass
class Summaries(SummaryIndex):
    """Every file's summary, in memory."""

    summaries: list[RecordSummary]
    schemas: SchemaSet
    read: Callable[[str], Record | None]
    records: list[RecordSummary] = field(init=False)
    unreadable: set[str] = field(init=False)
    ids_by_kind: dict[str, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.records = [s for s in self.summaries if s.kind not in (UNREADABLE, ATTACHMENT)]
        self.unreadable = {s.path for s in self.summaries if s.kind == UNREADABLE}
        self.ids_by_kind = {}
        for s in self.records:
            if s.id:
                self.ids_by_kind.setdefault(s.kind, set()).add(s.id)

    def misnamed(self) -> Iterator[RecordSummary]:
        return (s for s in self.records if s.id and s.id != file_stem(s.path))

    def duplicated(self) -> Iterator[RecordSummary]:
        seen = Counter((s.kind, s.id) for s in self.records if s.id)
        return (s for s in self.records if s.id and seen[(s.kind, s.id)] > 1)

    def unresolved(self) -> Iterator[tuple[RecordSummary, Reference]]:
        ids, nothing = self.ids_by_kind, frozenset[str]()
        for summary in self.records:
            for ref in summary.refs:
                if ref[1] in ids.get(ref[2][0], nothing):
                    continue  # the common case, first: 200,000 references at 50,000 incidents
                if not any(ref[1] in ids.get(kind, nothing) for kind in ref[2]):
                    yield summary, ref

    def has_id(self, kind: str, value: str) -> bool:
        return value in self.ids_by_kind.get(kind, ())

    def is_unreadable(self, path: str) -> bool:
        return path in self.unreadable

    def later_than(self, now: datetime) -> Iterator[RecordSummary]:
        return (s for s in self.records if s.latest is not None and s.latest > now)

    def file_findings(self) -> Iterator[Finding]:
        return (f for s in self.summaries for f in s.findings)

    def count_by_kind(self) -> Counter[str]:
        return Counter(s.kind for s in self.records)

    def data_summaries(self) -> Iterator[RecordSummary]:
        return (s for s in self.records if s.data is not None)

    def attachment_paths(self) -> set[str]:
        return {s.path for s in self.summaries if s.kind == ATTACHMENT}


# --- sharing the work out ---------------------------------------------------------------------

_WORKER: dict[str, Any] = {}

T = TypeVar("T")


def _init_worker(
    root: str, schemas: SchemaSet, allowed: frozenset[str], encode: Callable[[RecordSummary], Any]
) -> None:
    _WORKER.update(root=root, schemas=schemas, allowed=allowed, encode=encode)


def _summarize_paths(paths: Sequence[str]) -> list[Any]:
    from isg.records import read_one

    root, schemas, allowed = _WORKER["root"], _WORKER["schemas"], _WORKER["allowed"]
    encode = _WORKER["encode"]
    return [encode(summarize_file(path, read_one(root, path), schemas, allowed)) for path in paths]


def summarize_paths(
    root: str,
    paths: Sequence[str],
    schemas: SchemaSet,
    allowed: frozenset[str],
    encode: Callable[[RecordSummary], T],
    *,
    progress: Callable[[int], None] | None = None,
) -> list[T]:
    """`encode(summary)` of each file at `paths` under `root`, in parallel when there are
    many (the workers encode, so that the parent only receives what it keeps).

    Processes are forked (they inherit the schemas and `encode`); where fork is not
    available, or with one core, the work is done here.
    """
    from isg.records import read_one

    with collector_paused():  # summaries make no cycles; the rows live on (forks.py)
        if not worth_forking(len(paths), PARALLEL_FROM):
            found = []
            for index, path in enumerate(paths):
                summary = summarize_file(path, read_one(root, path), schemas, allowed)
                found.append(encode(summary))
                if progress and index % 500 == 499:
                    progress(500)
            if progress:
                progress(len(paths) % 500)
            return found
        chunk = 250
        chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
        found = []
        setup = (root, schemas, allowed, encode)
        for rows in fork_map(_summarize_paths, chunks, initializer=_init_worker, initargs=setup):
            found.extend(rows)
            if progress:
                progress(len(rows))
        return found
