"""Reading record files into a `Registry`. A file that cannot be read becomes a finding."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isg.errors import RegistryError
from isg.layout import RECORDS_DIR
from isg.model import KIND_BY_DIRECTORY, Finding, Kind, Record
from isg.safe_yaml import MAX_BYTES, YamlError, parse_document

# Beside an RfC, the proposed source change of a local change may be kept as a patch.
ATTACHMENT_SUFFIXES = (".patch", ".diff")
# Stand-ins for content that is never read: a NUL byte cannot start a YAML record.
LINK_MARKER = b"\0symlink"
TOO_LARGE_MARKER = b"\0too-large"
UNREADABLE_MARKER = b"\0unreadable:"


@dataclass
class Registry:
    """Every record that could be read, indexed by kind and ID, plus what could not be read."""

    records: list[Record] = field(default_factory=list)
    load_findings: list[Finding] = field(default_factory=list)
    attachments: set[str] = field(default_factory=set)
    # Paths of the schema-valid records, when the loader already knows (record_cache).
    valid_paths: frozenset[str] | None = None
    # The git blob id of each record's file by path, when the loader knows it (record_cache).
    blobs: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, str], Record] = {}
        self._kinds: dict[str, list[Record]] = {}
        for record in self.records:
            self._index.setdefault((record.kind.name, record.id), record)
            self._kinds.setdefault(record.kind.name, []).append(record)
        self._by_path = {record.path: record for record in self.records}

    def get(self, kind: str, record_id: str) -> Record | None:
        return self._index.get((kind, record_id))

    def of_kind(self, kind: str) -> list[Record]:
        return list(self._kinds.get(kind, ()))  # a copy: callers may sort it

    def by_path(self) -> dict[str, Record]:
        return self._by_path

    def is_valid(self, record: Record, schemas: Any) -> bool:
        """Whether `record` passes its schema (known from the loader, or asked once)."""
        if self.valid_paths is None:
            self.valid_paths = frozenset(
                r.path for r in self.records if schemas.fast[r.kind.name].is_valid(r.data)
            )
        return record.path in self.valid_paths


def read_record_files(root: Path) -> dict[str, bytes]:
    """Every regular file under `root/records`, keyed by repository-relative POSIX path.

    Symbolic links are not followed (a link could point anywhere on the machine); they are
    returned as empty content and refused by `parse_registry`. Over-size files are not read.
    """
    base = root / RECORDS_DIR
    if not base.is_dir():
        raise RegistryError(f"no {RECORDS_DIR}/ folder in {root}")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            files[rel] = read_one(root, rel)
    return files


def read_one(root: Path | str, rel: str) -> bytes:
    """The bytes of one file under `root`, or a marker for what must not or cannot be read.

    Called for every record file of a cold run, so it costs one lstat, one open and one
    read (pathlib's is_symlink, is_file, stat and read_bytes took three stats and a buffered
    reader: ~10 % of validating a record). The file is opened without following a link that
    replaced it after the lstat, and without blocking on a FIFO.
    """
    full = os.path.join(root, rel)
    try:
        info = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return LINK_MARKER  # gone, or not a file: nothing to read
    except OSError as exc:
        return UNREADABLE_MARKER + (exc.strerror or "error").encode()
    if not stat.S_ISREG(info.st_mode):
        return LINK_MARKER
    if info.st_size > MAX_BYTES:
        return TOO_LARGE_MARKER
    try:
        handle = os.open(full, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a link since the lstat
            return LINK_MARKER
        return UNREADABLE_MARKER + (exc.strerror or "error").encode()
    try:
        data = os.read(handle, info.st_size + 1)  # short of that: the whole file
        if len(data) > info.st_size:  # it grew since the lstat: read on, to the bound
            parts = [data]
            while parts[-1] and sum(map(len, parts)) <= MAX_BYTES:
                parts.append(os.read(handle, MAX_BYTES + 1))
            data = b"".join(parts)
    except OSError as exc:
        return UNREADABLE_MARKER + (exc.strerror or "error").encode()
    finally:
        os.close(handle)
    return TOO_LARGE_MARKER if len(data) > MAX_BYTES else data


_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def file_problem(rel: str, data: bytes) -> str | None:
    parts = rel.split("/")
    if data == LINK_MARKER:
        return "symbolic links and special files are not allowed in records/"
    if data.startswith(UNREADABLE_MARKER):
        return "cannot read the file: " + data[len(UNREADABLE_MARKER) :].decode()
    if data == TOO_LARGE_MARKER:
        return f"file is larger than {MAX_BYTES // 1024} KiB"
    if len(parts) != 3 or parts[1] not in KIND_BY_DIRECTORY:
        known = ", ".join(sorted(KIND_BY_DIRECTORY))
        return f"records must be in records/<kind>/ where kind is one of: {known}"
    if rel.endswith(".yml"):
        return "record files end in .yaml, not .yml"
    if not rel.endswith(".yaml"):
        return "only .yaml records (and .patch/.diff beside RfCs) belong in records/"
    return None


def parse_registry(files: Mapping[str, bytes]) -> Registry:
    """Parse every record file; unreadable ones become findings, never exceptions."""
    records: list[Record] = []
    findings: list[Finding] = []
    attachments: set[str] = set()
    for rel in sorted(files):
        data = files[rel]
        if rel.startswith(f"{RECORDS_DIR}/rfcs/") and rel.endswith(ATTACHMENT_SUFFIXES):
            attachments.add(rel)
            continue
        problem = file_problem(rel, data)
        if problem:
            findings.append(Finding(path=rel, line=1, column=1, message=problem, rule="file"))
            continue
        kind = KIND_BY_DIRECTORY[rel.split("/")[1]]
        try:
            document = parse_document(data)
        except YamlError as exc:
            findings.append(
                Finding(
                    path=rel,
                    line=exc.position.line,
                    column=exc.position.column,
                    message=exc.message,
                    rule="yaml",
                )
            )
            continue
        records.append(Record(kind=kind, path=rel, document=document))
    return Registry(records=records, load_findings=findings, attachments=attachments)


def read_record(root: Path | str, rel: str) -> Record | None:
    """The record at `rel`, read and parsed again (for the positions of a finding)."""
    registry = parse_registry({rel: read_one(root, rel)})
    return registry.records[0] if registry.records else None


def record_path(kind: Kind, record_id: str) -> str:
    """Where the record `record_id` of `kind` lives."""
    return f"{RECORDS_DIR}/{kind.directory}/{record_id}.yaml"


def file_stem(path: str) -> str:
    """What a record's ID must be: its file name without `.yaml`."""
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def write_atomic(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`.

    With `exclusive`, refuse (FileExistsError) if `path` already exists, so a new record
    never overwrites another.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if exclusive:
            os.link(tmp, path)  # fails if path exists, atomically
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
